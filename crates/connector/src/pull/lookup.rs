//! Finding a stream's declaration when a read asks for one by name.

use super::StreamDecl;
use crate::ConnectorError;

impl<V> StreamDecl<V> {
    /// The declaration called `name` in `table` (every stream of the kind, or those an
    /// instance's configuration declares), or the [`ConnectorError::Config`] of connector
    /// `instance` saying that its kind `kind` has no such stream.
    pub fn lookup<'t>(
        table: impl IntoIterator<Item = &'t StreamDecl<V>>,
        name: &str,
        kind: &str,
        instance: &str,
    ) -> Result<&'t StreamDecl<V>, ConnectorError> {
        table.into_iter().find(|d| d.name == name).ok_or_else(|| {
            ConnectorError::config(instance, format!("{kind} has no stream `{name}`"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DeleteStrategy;
    use crate::pull::INCREMENTAL_FIRST;
    use tributary_model::EntityKind;

    #[test]
    fn an_undeclared_stream_is_a_config_error_naming_it() {
        let table = [StreamDecl {
            name: "deals",
            entity: EntityKind::Subscription,
            cursor_field: None,
            modes: INCREMENTAL_FIRST,
            delete_strategy: DeleteStrategy::KeyDiff,
            vendor: (),
        }];
        let found = StreamDecl::lookup(&table, "deals", "hubspot", "prod");
        assert_eq!(found.map(|d| d.name).ok(), Some("deals"));
        match StreamDecl::lookup(&table, "tickets", "hubspot", "prod") {
            Err(ConnectorError::Config { instance, message }) => {
                assert_eq!(instance, "prod");
                assert_eq!(message, "hubspot has no stream `tickets`");
            }
            other => panic!("expected a config error, got {other:?}"),
        }
        // Over the streams an instance declares.
        let declared = table.iter().filter(|d| d.name != "deals");
        let err = StreamDecl::lookup(declared, "deals", "hubspot", "prod").unwrap_err();
        assert_eq!(
            err.to_string(),
            ConnectorError::config("prod", "hubspot has no stream `deals`").to_string()
        );
    }
}
