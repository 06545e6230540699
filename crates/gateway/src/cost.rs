//! What a document may cost, decided on the parsed document **before** async-graphql checks
//! it. async-graphql walks fragments as expanded and without memory — its recursion-depth and
//! directive checks right after parsing, its complexity and depth visitors and the
//! field-merging rule in validation — so a document of nested fragment spreads that double
//! per level (1.5 KB for 2²⁴ fields) pinned a core before any limit was compared. Here every
//! fragment is costed once (memoised), with saturating arithmetic, so the analysis is linear
//! in the size of the document whatever it expands to, and a document it lets through
//! expands to at most the cost bound, which bounds those walks too. The HTTP layer runs it on
//! the parsed request before handing it to the schema; the request-checks extension runs it
//! again for callers of `Schema::execute`.
//!
//! - **cost**: each field counts [`field_cost`] (1, or what an expensive resolver declares in
//!   [`DECLARED_COSTS`]) plus its selection, multiplied by the page size for a paged list
//!   (`first`, literal or variable; [`DEFAULT_PAGE_SIZE`] when absent); each fragment spread
//!   counts 1 plus its fragment, every time it is spread. Introspection fields count 1 each
//!   (the schema bounds them). Over [`Limits::max_cost`]: `QUERY_TOO_COMPLEX`.
//! - **depth**, fragments expanded, introspection not counted (GraphiQL's introspection query
//!   nests `ofType` nine levels deep): over [`Limits::max_depth`]: `QUERY_TOO_DEEP`.
//! - **the document itself**: at most [`MAX_FRAGMENTS`] fragments, no fragment spread inside
//!   itself, no NUL byte in any argument or variable (SQLite reads a NUL as the end of a
//!   string and PostgreSQL refuses it): `VALIDATION_FAILED`, naming the argument.
//!
//! [`nesting`] bounds the raw text before it is parsed at all.

use crate::error::{code, server_error};
use crate::paging::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
use async_graphql::parser::types::{
    ExecutableDocument, Field, FragmentDefinition, Selection, SelectionSet,
};
use async_graphql::registry::{MetaTypeName, Registry};
use async_graphql::{Name, Positioned, ServerError, Value, Variables};
use std::collections::HashMap;

/// Most fragment definitions one document may hold.
pub(crate) const MAX_FRAGMENTS: usize = 500;

/// Deepest nesting of `{`, `(` and `[` the raw query text may have; the parser itself stops at
/// 64 selection sets, but only after its grammar has recursed through the whole text.
pub(crate) const MAX_NESTING: usize = 64;

/// Cost an expensive resolver declares, by parent type and field: each computes over a whole
/// table rather than a page. The ARR bridge reads and folds the entire revenue ledger (0.4 s
/// on a 3,000-account demo in a debug build), so 10 of them exhaust the default bound of
/// 10,000 where 500 aliases ran for minutes.
pub(crate) const DECLARED_COSTS: &[(&str, &str, u64)] = &[("Query", "revenueBridge", 1_000)];

/// The bounds a document is held to.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// Highest cost allowed.
    pub(crate) max_cost: u64,
    /// Deepest nesting of data fields allowed.
    pub(crate) max_depth: usize,
}

/// What a document costs; see the module docs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Cost {
    /// The cost of its most expensive operation.
    pub(crate) cost: u64,
    /// The depth of its deepest operation.
    pub(crate) depth: usize,
}

/// The data schema's types (introspection's are not needed: introspection fields count 1
/// each). `Schema` keeps its registry private, so the HTTP layer, which checks a document
/// before handing it to the schema, builds its own from the same root types.
pub(crate) fn registry() -> Registry {
    let mut r = Registry::default();
    let query = <crate::QueryRoot as async_graphql::OutputType>::create_type_info(&mut r);
    r.query_type = MetaTypeName::concrete_typename(&query).to_owned();
    let mutation = <crate::MutationRoot as async_graphql::OutputType>::create_type_info(&mut r);
    r.mutation_type = Some(MetaTypeName::concrete_typename(&mutation).to_owned());
    r
}

/// The cost of `name` on `parent` when resolved once, its selection not included.
pub(crate) fn field_cost(parent: &str, name: &str) -> u64 {
    DECLARED_COSTS
        .iter()
        .find(|(p, f, _)| *p == parent && *f == name)
        .map_or(1, |(_, _, c)| *c)
}

/// Checks `doc` against `limits`; the error is the one a client sees, with its code.
pub(crate) fn check(
    registry: &Registry,
    doc: &ExecutableDocument,
    variables: &Variables,
    limits: Limits,
) -> Result<Cost, ServerError> {
    if doc.fragments.len() > MAX_FRAGMENTS {
        return Err(server_error(
            format!(
                "the document defines {} fragments; the limit is {MAX_FRAGMENTS}",
                doc.fragments.len()
            ),
            code::VALIDATION_FAILED,
        ));
    }
    check_nul(doc, variables)?;
    let cost = measure(registry, doc, variables)?;
    if cost.depth > limits.max_depth {
        return Err(server_error(
            format!(
                "query nests fields {} deep (fragments expanded); the limit is {}",
                cost.depth, limits.max_depth
            ),
            code::QUERY_TOO_DEEP,
        ));
    }
    if cost.cost > limits.max_cost {
        let shown = if cost.cost == u64::MAX {
            "beyond counting".to_owned()
        } else {
            cost.cost.to_string()
        };
        return Err(server_error(
            format!(
                "query cost is {shown} (fragments expanded, lists counted by `first`); the limit is {} (ask for smaller pages, fewer aliases or fewer fields)",
                limits.max_cost
            ),
            code::QUERY_TOO_COMPLEX,
        ));
    }
    Ok(cost)
}

/// The cost and depth of `doc` (its most expensive operation each).
pub(crate) fn measure(
    registry: &Registry,
    doc: &ExecutableDocument,
    variables: &Variables,
) -> Result<Cost, ServerError> {
    // A variable's value: the request's, else its default in any operation.
    let mut defaults: HashMap<&str, &Value> = HashMap::new();
    for (_, op) in doc.operations.iter() {
        for var in &op.node.variable_definitions {
            if let Some(d) = &var.node.default_value {
                defaults.insert(var.node.name.node.as_str(), &d.node);
            }
        }
    }
    let mut walker = Walker {
        registry,
        fragments: &doc.fragments,
        variables,
        defaults,
        memo: HashMap::new(),
        active: Vec::new(),
    };
    let mut total = Cost::default();
    for (_, op) in doc.operations.iter() {
        let root = match op.node.ty {
            async_graphql::parser::types::OperationType::Query => {
                Some(registry.query_type.as_str())
            }
            async_graphql::parser::types::OperationType::Mutation => {
                registry.mutation_type.as_deref()
            }
            async_graphql::parser::types::OperationType::Subscription => {
                registry.subscription_type.as_deref()
            }
        };
        let c = walker.set(&op.node.selection_set, root, false)?;
        total.cost = total.cost.max(c.cost);
        total.depth = total.depth.max(c.depth);
    }
    // Validation walks every fragment definition too, expanded, used or not: an unused one
    // must not expand without bound either. (Its depth is left to validation, which refuses
    // an unused fragment anyway.)
    for name in doc.fragments.keys() {
        let c = walker.fragment(name.as_str(), false)?;
        total.cost = total.cost.max(c.cost);
    }
    Ok(total)
}

struct Walker<'a> {
    registry: &'a Registry,
    fragments: &'a HashMap<Name, Positioned<FragmentDefinition>>,
    variables: &'a Variables,
    defaults: HashMap<&'a str, &'a Value>,
    /// Cost and depth of each fragment, inside introspection or not.
    memo: HashMap<(&'a str, bool), Cost>,
    /// Fragments being expanded, to refuse cycles.
    active: Vec<&'a str>,
}

impl<'a> Walker<'a> {
    /// The cost and depth of `set` selected on the type `ty` (`None` when unknown: the
    /// validation that follows reports it). Inside introspection depth is not counted.
    fn set(
        &mut self,
        set: &'a Positioned<SelectionSet>,
        ty: Option<&'a str>,
        introspection: bool,
    ) -> Result<Cost, ServerError> {
        let mut out = Cost::default();
        for item in &set.node.items {
            let c = match &item.node {
                Selection::Field(f) => self.field(&f.node, ty, introspection)?,
                Selection::InlineFragment(f) => {
                    let ty = match &f.node.type_condition {
                        Some(cond) => Some(cond.node.on.node.as_str()),
                        None => ty,
                    };
                    self.set(&f.node.selection_set, ty, introspection)?
                }
                Selection::FragmentSpread(s) => {
                    let mut c = self.fragment(s.node.fragment_name.node.as_str(), introspection)?;
                    c.cost = c.cost.saturating_add(1);
                    c
                }
            };
            out.cost = out.cost.saturating_add(c.cost);
            out.depth = out.depth.max(c.depth);
        }
        Ok(out)
    }

    fn fragment(&mut self, name: &'a str, introspection: bool) -> Result<Cost, ServerError> {
        // An unknown fragment is reported by validation.
        let Some((key, def)) = self.fragments.get_key_value(name) else {
            return Ok(Cost::default());
        };
        let name = key.as_str();
        // A fragment on an introspection type (`on __Type`) is introspection wherever used.
        let introspection = introspection || def.node.type_condition.node.on.node.starts_with("__");
        if let Some(c) = self.memo.get(&(name, introspection)) {
            return Ok(*c);
        }
        if self.active.contains(&name) {
            return Err(server_error(
                format!("fragment `{name}` spreads itself"),
                code::VALIDATION_FAILED,
            ));
        }
        self.active.push(name);
        let ty = def.node.type_condition.node.on.node.as_str();
        let c = self.set(&def.node.selection_set, Some(ty), introspection);
        self.active.pop();
        let c = c?;
        self.memo.insert((name, introspection), c);
        Ok(c)
    }

    fn field(
        &mut self,
        f: &'a Field,
        parent: Option<&'a str>,
        introspection: bool,
    ) -> Result<Cost, ServerError> {
        let name = f.name.node.as_str();
        let introspection = introspection || name.starts_with("__");
        let meta = parent
            .and_then(|p| self.registry.types.get(p))
            .and_then(|t| t.field_by_name(name));
        let child_ty = meta.map(|m| MetaTypeName::concrete_typename(&m.ty));
        let own = match parent {
            Some(p) if !introspection => field_cost(p, name),
            _ => 1,
        };
        // A paged list returns up to `first` nodes, each with the selection.
        let times = match meta {
            Some(m) if !introspection && m.args.contains_key("first") => self.page_size(f),
            _ => 1,
        };
        let child = self.set(&f.selection_set, child_ty, introspection)?;
        Ok(Cost {
            cost: own.saturating_add(times.saturating_mul(child.cost)),
            depth: if introspection { 0 } else { 1 + child.depth },
        })
    }

    /// The page size `first` asks for, clamped to the range the resolver accepts (an
    /// out-of-range value is refused there, as `VALIDATION_FAILED` naming `first`).
    fn page_size(&self, f: &Field) -> u64 {
        let value = f.get_argument("first").map(|v| {
            v.node.clone().into_const_with(|var| {
                Ok::<_, std::convert::Infallible>(
                    self.variables
                        .get(&var)
                        .or_else(|| self.defaults.get(var.as_str()).copied())
                        .cloned()
                        .unwrap_or(Value::Null),
                )
            })
        });
        let n = match value {
            Some(Ok(Value::Number(n))) => n.as_i64(),
            _ => None,
        }
        .unwrap_or(i64::from(DEFAULT_PAGE_SIZE));
        n.clamp(1, i64::from(MAX_PAGE_SIZE)).unsigned_abs()
    }
}

/// Refuses a NUL byte in any argument of the document (fragments included) or any variable.
fn check_nul(doc: &ExecutableDocument, variables: &Variables) -> Result<(), ServerError> {
    for (name, value) in variables.iter() {
        if const_has_nul(value) {
            return Err(nul_error(&format!("variable `${name}`")));
        }
    }
    let mut sets: Vec<&SelectionSet> = doc
        .operations
        .iter()
        .map(|(_, op)| &op.node.selection_set.node)
        .chain(doc.fragments.values().map(|f| &f.node.selection_set.node))
        .collect();
    // Each selection set of the document once, as written (not expanded).
    while let Some(set) = sets.pop() {
        for item in &set.items {
            match &item.node {
                Selection::Field(f) => {
                    for (arg, value) in &f.node.arguments {
                        // Variables are checked above; here they stand as null.
                        let literal = value
                            .node
                            .clone()
                            .into_const_with(|_| Ok::<_, std::convert::Infallible>(Value::Null));
                        if literal.is_ok_and(|v| const_has_nul(&v)) {
                            return Err(nul_error(&format!(
                                "argument `{}` of `{}`",
                                arg.node, f.node.name.node
                            )));
                        }
                    }
                    sets.push(&f.node.selection_set.node);
                }
                Selection::InlineFragment(f) => sets.push(&f.node.selection_set.node),
                Selection::FragmentSpread(_) => {}
            }
        }
    }
    Ok(())
}

fn nul_error(what: &str) -> ServerError {
    server_error(
        format!("{what} contains a NUL character, which no value may hold"),
        code::VALIDATION_FAILED,
    )
}

fn const_has_nul(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains('\0'),
        Value::List(items) => items.iter().any(const_has_nul),
        Value::Object(fields) => fields
            .iter()
            .any(|(k, v)| k.contains('\0') || const_has_nul(v)),
        _ => false,
    }
}

/// Refuses query text nested deeper than [`MAX_NESTING`] brackets before it is parsed (string
/// literals, block strings and comments skipped as the GraphQL lexer reads them), so the
/// parser's recursion is bounded too.
pub(crate) fn nesting(query: &str) -> Result<(), ServerError> {
    let bytes = query.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'{' | b'(' | b'[' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(server_error(
                        format!("the document nests brackets more than {MAX_NESTING} deep"),
                        code::QUERY_TOO_DEEP,
                    ));
                }
            }
            b'}' | b')' | b']' => depth = depth.saturating_sub(1),
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                    i += 1;
                }
            }
            b'"' if bytes[i..].starts_with(b"\"\"\"") => {
                // A block string ends at the first `"""` not escaped as `\"""`.
                i += 3;
                while i < bytes.len() && !bytes[i..].starts_with(b"\"\"\"") {
                    i += if bytes[i..].starts_with(b"\\\"\"\"") {
                        4
                    } else {
                        1
                    };
                }
                i += 2;
            }
            b'"' => {
                // A plain string ends at an unescaped quote (or a line end, where the parser
                // stops with an error anyway).
                i += 1;
                while i < bytes.len() && !matches!(bytes[i], b'"' | b'\n' | b'\r') {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::parser::parse_query;

    fn cost(q: &str) -> Cost {
        cost_with(q, Variables::default())
    }

    fn cost_with(q: &str, vars: Variables) -> Cost {
        measure(&registry(), &parse_query(q).unwrap(), &vars).unwrap()
    }

    /// The issue's fragment fan-out: each level spreads the one below twice.
    fn fan_out(levels: usize) -> String {
        let mut q = String::from("query { ...F");
        q.push_str(&levels.to_string());
        q.push_str(" }\nfragment F0 on Query { a: __typename }\n");
        for i in 1..=levels {
            q.push_str(&format!(
                "fragment F{i} on Query {{ ...F{p} a: __typename ...F{p} }}\n",
                p = i - 1
            ));
        }
        q
    }

    #[test]
    fn fields_lists_and_declared_costs() {
        assert_eq!(cost("{ __typename }").cost, 1);
        // 1 for accounts, 20 × (1 nodes + 20 × 1 name) by default.
        assert_eq!(cost("{ accounts { nodes { name } } }").cost, 1 + 20 * 2);
        assert_eq!(
            cost("{ accounts(first: 5) { nodes { name } } }").cost,
            1 + 5 * 2
        );
        let vars = Variables::from_json(serde_json::json!({"n": 100}));
        assert_eq!(
            cost_with(
                "query($n: Int) { accounts(first: $n) { totalCount } }",
                vars
            )
            .cost,
            101
        );
        assert_eq!(
            cost("query($n: Int = 7) { accounts(first: $n) { totalCount } }").cost,
            8
        );
        // Out of range values are clamped: the resolver refuses them by name.
        assert_eq!(cost("{ accounts(first: 100000) { totalCount } }").cost, 501);
        assert_eq!(
            cost(r#"{ revenueBridge(from: "2024-01-01", to: "2024-12-31") { closingArr { amount } } }"#)
                .cost,
            1_000 + 2
        );
    }

    #[test]
    fn fragment_fan_out_is_counted_expanded_in_linear_time() {
        // 2^(n+1) - 1 fields and as many spreads, counted without expanding.
        let c = cost(&fan_out(10));
        assert_eq!(c.cost, (1 << 11) - 1 + (1 << 11) - 1);
        let started = std::time::Instant::now();
        let c = cost(&fan_out(400));
        assert_eq!(c.cost, u64::MAX);
        assert_eq!(c.depth, 0);
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn depth_counts_fragments_and_ignores_introspection() {
        assert_eq!(cost("{ accounts { nodes { name } } }").depth, 3);
        assert_eq!(
            cost("{ accounts { ...C } } fragment C on AccountConnection { nodes { people { email } } }")
                .depth,
            4
        );
        let c = cost("{ __schema { types { fields { type { ofType { name } } } } } }");
        assert_eq!(c.depth, 0);
        assert_eq!(c.cost, 6);
    }

    #[test]
    fn cycles_nul_bytes_and_fragment_counts_are_refused() {
        let r = registry();
        let limits = Limits {
            max_cost: 10_000,
            max_depth: 12,
        };
        let run = |q: &str, v: serde_json::Value| {
            check(
                &r,
                &parse_query(q).unwrap(),
                &Variables::from_json(v),
                limits,
            )
        };
        let code_of = |e: ServerError| {
            e.extensions
                .and_then(|x| x.get("code").cloned())
                .map(|c| c.to_string())
        };
        let cycle = run(
            "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }",
            serde_json::json!({}),
        )
        .unwrap_err();
        assert_eq!(code_of(cycle).as_deref(), Some("\"VALIDATION_FAILED\""));
        let nul = run(
            "{ accounts(filter: {nameContains: \"a\\u0000b\"}) { totalCount } }",
            serde_json::json!({}),
        )
        .unwrap_err();
        assert!(nul.message.contains("argument `filter`"), "{}", nul.message);
        let nul = run(
            "query($f: AccountFilter) { accounts(filter: $f) { totalCount } }",
            serde_json::json!({"f": {"industry": "x\u{0}"}}),
        )
        .unwrap_err();
        assert!(nul.message.contains("variable `$f`"), "{}", nul.message);
        let bomb = run(&fan_out(24), serde_json::json!({})).unwrap_err();
        assert_eq!(code_of(bomb).as_deref(), Some("\"QUERY_TOO_COMPLEX\""));
        // An unused fragment is walked by validation too.
        let unused = fan_out(24).replace("query { ...F24 }", "query { __typename }");
        let bomb = run(&unused, serde_json::json!({})).unwrap_err();
        assert_eq!(code_of(bomb).as_deref(), Some("\"QUERY_TOO_COMPLEX\""));
        let mut many = String::from("{ __typename }");
        for i in 0..=MAX_FRAGMENTS {
            many.push_str(&format!(" fragment F{i} on Query {{ __typename }}"));
        }
        assert!(run(&many, serde_json::json!({})).is_err());
        let aliases: String = (0..500)
            .map(|i| format!(" b{i}: revenueBridge(from: \"2024-01-01\", to: \"2024-12-31\") {{ closingArr {{ amount }} }}"))
            .collect();
        let e = run(&format!("{{{aliases} }}"), serde_json::json!({})).unwrap_err();
        assert_eq!(code_of(e).as_deref(), Some("\"QUERY_TOO_COMPLEX\""));
    }

    #[test]
    fn nesting_is_bounded_before_parsing() {
        assert!(nesting("{ a { b { c } } }").is_ok());
        assert!(nesting(&"{a".repeat(100_000)).is_err());
        // Brackets inside strings and comments do not count.
        let s = format!(
            "{{ a(x: \"{}\") }} # {}",
            "{".repeat(1000),
            "[".repeat(1000)
        );
        assert!(nesting(&s).is_ok());
        assert!(nesting(r#"{ a(x: "\"{{{{") }"#).is_ok());
        // Block strings end at the first unescaped triple quote.
        let block = format!(
            "{{ a(x: \"\"\" {} \\\"\"\" {} \"\"\") }}",
            "{".repeat(100),
            "(".repeat(100)
        );
        assert!(nesting(&block).is_ok(), "{block}");
        let escaped_out = format!("{{ a(x: \"\"\" \"\"\") {} }}", "{".repeat(100));
        assert!(nesting(&escaped_out).is_err());
    }
}
