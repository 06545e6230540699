//! Moodle's request parameters: GET query and form-encoded POST bodies, merged, with PHP's
//! bracketed arrays (`courseids[0]=5`, `options[ids][0]=2`, `options[0][name]=onlyactive`).

use std::collections::BTreeMap;

/// Every parameter of a request, in order (query first, then the form body).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// The parameters of a query string and a form body.
    pub fn parse(query: Option<&str>, body: &[u8]) -> Self {
        let mut pairs: Vec<(String, String)> = query
            .map(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .into_owned()
                    .collect()
            })
            .unwrap_or_default();
        pairs.extend(url::form_urlencoded::parse(body).into_owned());
        Self(pairs)
    }

    /// The last value of scalar `name` (PHP keeps the last of repeated keys).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The values of list `name` (`name[0]`, `name[1]`… or `name[]`), in index order.
    pub fn list(&self, name: &str) -> Vec<&str> {
        let prefix = format!("{name}[");
        let mut indexed: BTreeMap<(u64, usize), &str> = BTreeMap::new();
        for (pos, (k, v)) in self.0.iter().enumerate() {
            let Some(rest) = k.strip_prefix(&prefix).and_then(|r| r.strip_suffix(']')) else {
                continue;
            };
            if rest.contains('[') {
                continue;
            }
            let index = if rest.is_empty() {
                u64::MAX
            } else {
                match rest.parse() {
                    Ok(i) => i,
                    Err(_) => continue,
                }
            };
            indexed.insert((index, pos), v.as_str());
        }
        indexed.into_values().collect()
    }

    /// The `options[i][name]` / `options[i][value]` pairs of `core_enrol_get_enrolled_users`,
    /// by name.
    pub fn options(&self) -> BTreeMap<&str, &str> {
        let mut names: BTreeMap<&str, &str> = BTreeMap::new();
        let mut values: BTreeMap<&str, &str> = BTreeMap::new();
        for (k, v) in &self.0 {
            let Some(rest) = k.strip_prefix("options[") else {
                continue;
            };
            if let Some(i) = rest.strip_suffix("][name]") {
                names.insert(i, v);
            } else if let Some(i) = rest.strip_suffix("][value]") {
                values.insert(i, v);
            }
        }
        names
            .into_iter()
            .filter_map(|(i, name)| Some((name, *values.get(i)?)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn php_arrays_and_options_parse_from_query_and_body() {
        let p = Params::parse(
            Some("wsfunction=f&values%5B1%5D=b%40x.com&values%5B0%5D=a%40x.com"),
            b"options[0][name]=onlyactive&options[0][value]=1&options[1][name]=limitfrom&options[1][value]=25&options[ids][0]=4&options[ids][1]=2",
        );
        assert_eq!(p.get("wsfunction"), Some("f"));
        assert_eq!(p.list("values"), vec!["a@x.com", "b@x.com"]);
        assert_eq!(p.list("options[ids]"), vec!["4", "2"]);
        let o = p.options();
        assert_eq!(o.get("onlyactive"), Some(&"1"));
        assert_eq!(o.get("limitfrom"), Some(&"25"));
        assert!(p.list("courseids").is_empty());
    }
}
