//! `tributary connector new <kind>`: a connector crate (`connectors/<kind>`), its mock
//! (`mocks/<kind>`) and its conformance test for a generic paged JSON API, registered in the
//! workspace, the binary's registry, `tributary sim serve` and CI's PostgreSQL suites, and
//! passing the conformance kit as generated. `CONNECTORS.md` walks through editing them into
//! the real vendor.
//!
//! The templates are the files under `scaffold/` in the repository, embedded in the binary:
//! a working connector and mock for a vendor called `acme`, whose name is replaced
//! (`acme`, `Acme`, `ACME`) by the new kind's. Registration inserts lines above the
//! `` `tributary connector new` adds … above this line`` markers of `Cargo.toml` and
//! `src/registry.rs`, so a checkout whose markers are gone is refused rather than edited
//! blindly. CI generates a connector in a scratch copy of the workspace and runs its tests
//! (`.ci/scaffold`), so the templates cannot rot.

use std::path::{Path, PathBuf};

/// One template file: its path under the new crate and its text.
struct Template {
    path: &'static str,
    text: &'static str,
}

macro_rules! templates {
    ($dir:literal: $($path:literal $(as $target:literal)?),* $(,)?) => {
        &[$(Template {
            path: templates!(@target $path $(, $target)?),
            text: include_str!(concat!("../scaffold/", $dir, "/", $path)),
        }),*]
    };
    (@target $path:literal) => { $path };
    (@target $path:literal, $target:literal) => { $target };
}

const CONNECTOR: &[Template] = templates!("connector":
    "Cargo.toml.tmpl" as "Cargo.toml",
    "README.md",
    "src/lib.rs",
    "src/mapping.rs",
    "tests/conformance.rs",
    "tests/vendor/mod.rs",
);

const MOCK: &[Template] = templates!("mock":
    "Cargo.toml.tmpl" as "Cargo.toml",
    "src/lib.rs",
    "src/tests.rs",
);

/// The names the templates use for their vendor, as [`Names`] spells them.
const PLACEHOLDER: [&str; 3] = ["ACME", "Acme", "acme"];

/// What went wrong scaffolding a connector.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    /// The kind is not a lower-case word.
    #[error(
        "connector kind `{0}` must be a lower-case word of letters and digits starting with a letter (e.g. `zendesk`)"
    )]
    BadKind(String),
    /// The kind or its crates exist already.
    #[error("connector kind `{kind}` exists already: {what}")]
    Exists {
        /// The kind.
        kind: String,
        /// What already has its name.
        what: String,
    },
    /// A file lacks the marker registration inserts above.
    #[error(
        "{} has no line containing `{marker}`: run `tributary connector new` at the root of a Tributary checkout (or pass --workspace)",
        .file.display()
    )]
    NoMarker {
        /// The file.
        file: PathBuf,
        /// The marker.
        marker: &'static str,
    },
    /// Reading or writing a file failed.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// The names one kind goes by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    /// `zendesk`: the kind in `tributary.toml`, the directories, the crate suffix.
    pub kind: String,
    /// `Zendesk`: type names and prose.
    pub title: String,
    /// `ZENDESK`: environment variables.
    pub upper: String,
}

impl Names {
    /// The names of `kind`, which must be a lower-case ASCII word (`[a-z][a-z0-9]*`).
    pub fn new(kind: &str) -> Result<Self, ScaffoldError> {
        let mut chars = kind.chars();
        let valid = chars.next().is_some_and(|c| c.is_ascii_lowercase())
            && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        if !valid {
            return Err(ScaffoldError::BadKind(kind.to_owned()));
        }
        let mut title = kind.to_owned();
        title[..1].make_ascii_uppercase();
        Ok(Self {
            kind: kind.to_owned(),
            title,
            upper: kind.to_ascii_uppercase(),
        })
    }

    /// `text` with the templates' vendor (`ACME`, `Acme`, `acme`) renamed to this kind.
    fn apply(&self, text: &str) -> String {
        let [upper, title, kind] = PLACEHOLDER;
        text.replace(upper, &self.upper)
            .replace(title, &self.title)
            .replace(kind, &self.kind)
    }
}

/// A file `connector new` writes or edits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    /// Relative to the workspace root.
    pub path: PathBuf,
    /// Its whole new text.
    pub text: String,
    /// Whether it exists and is being edited (registration) rather than created.
    pub edit: bool,
}

/// Marker lines registration inserts above, per file.
const MEMBERS: &str = "`tributary connector new` adds crates above this line";
const PATH_DEPS: &str = "`tributary connector new` adds path dependencies above this line";
const ROOT_DEPS: &str = "`tributary connector new` adds vendor crates above this line";
const KINDS: &str = "`tributary connector new` adds kinds above this line";
const MOCKS: &str = "`tributary connector new` adds mocks above this line";

/// Every file `connector new <kind>` would write in the workspace at `root`, without writing
/// any: the new crates, and the registration edits to `Cargo.toml`, `src/registry.rs` and
/// `.ci/postgres-suites`.
pub fn plan(root: &Path, names: &Names) -> Result<Vec<Planned>, ScaffoldError> {
    let kind = &names.kind;
    for dir in [format!("connectors/{kind}"), format!("mocks/{kind}")] {
        if root.join(&dir).exists() {
            return Err(ScaffoldError::Exists {
                kind: kind.clone(),
                what: format!("{dir} is there"),
            });
        }
    }
    let read = |rel: &str| {
        let path = root.join(rel);
        std::fs::read_to_string(&path).map_err(|source| ScaffoldError::Io { path, source })
    };
    let cargo = read("Cargo.toml")?;
    let registry = read("src/registry.rs")?;
    let declaration = format!("tributary_connector_{kind}::DECLARATION");
    if registry.contains(&declaration) || cargo.contains(&format!("\"connectors/{kind}\"")) {
        return Err(ScaffoldError::Exists {
            kind: kind.clone(),
            what: "it is registered in Cargo.toml or src/registry.rs".to_owned(),
        });
    }

    let mut out = Vec::new();
    for (dir, templates) in [("connectors", CONNECTOR), ("mocks", MOCK)] {
        for t in templates {
            out.push(Planned {
                path: Path::new(dir).join(kind).join(t.path),
                text: names.apply(t.text),
                edit: false,
            });
        }
    }
    let cargo_path = root.join("Cargo.toml");
    let cargo = insert_above(
        &cargo,
        MEMBERS,
        &[
            format!("\"mocks/{kind}\","),
            format!("\"connectors/{kind}\","),
        ],
    )
    .ok_or_else(|| no_marker(&cargo_path, MEMBERS))?;
    let cargo = insert_above(
        &cargo,
        PATH_DEPS,
        &[
            format!("tributary-mock-{kind} = {{ path = \"mocks/{kind}\" }}"),
            format!("tributary-connector-{kind} = {{ path = \"connectors/{kind}\" }}"),
        ],
    )
    .ok_or_else(|| no_marker(&cargo_path, PATH_DEPS))?;
    let cargo = insert_above(
        &cargo,
        ROOT_DEPS,
        &[
            format!("tributary-mock-{kind}.workspace = true"),
            format!("tributary-connector-{kind}.workspace = true"),
        ],
    )
    .ok_or_else(|| no_marker(&cargo_path, ROOT_DEPS))?;
    out.push(Planned {
        path: "Cargo.toml".into(),
        text: cargo,
        edit: true,
    });

    let registry_path = root.join("src/registry.rs");
    let registry = insert_above(&registry, KINDS, &[format!("&{declaration},")])
        .ok_or_else(|| no_marker(&registry_path, KINDS))?;
    let mock = format!("tributary_mock_{kind}::{}Mock", names.title);
    let registry = insert_above(
        &registry,
        MOCKS,
        &[format!(
            "|company, faults| Box::new({mock}::new(company, faults)),"
        )],
    )
    .ok_or_else(|| no_marker(&registry_path, MOCKS))?;
    out.push(Planned {
        path: "src/registry.rs".into(),
        text: registry,
        edit: true,
    });

    let suites = read(".ci/postgres-suites")?;
    let mut suites = suites.trim_end().to_owned();
    suites.push_str(&format!(
        "\ntributary-connector-{kind} conformance conformance::postgres::\n"
    ));
    out.push(Planned {
        path: ".ci/postgres-suites".into(),
        text: suites,
        edit: true,
    });
    Ok(out)
}

fn no_marker(file: &Path, marker: &'static str) -> ScaffoldError {
    ScaffoldError::NoMarker {
        file: file.to_owned(),
        marker,
    }
}

/// `text` with `lines` inserted above the line containing `marker`, indented like it; `None`
/// without such a line.
fn insert_above(text: &str, marker: &str, lines: &[String]) -> Option<String> {
    let at = text.find(marker)?;
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let indent: String = text[line_start..]
        .chars()
        .take_while(|c| c.is_whitespace())
        .collect();
    let mut out = text[..line_start].to_owned();
    for line in lines {
        out.push_str(&indent);
        out.push_str(line);
        out.push('\n');
    }
    out.push_str(&text[line_start..]);
    Some(out)
}

/// Writes `planned` under `root`: new files are created (never overwritten), edited ones
/// replaced. Returns the paths written.
pub fn write(root: &Path, planned: &[Planned]) -> Result<Vec<PathBuf>, ScaffoldError> {
    let mut written = Vec::new();
    for file in planned {
        let path = root.join(&file.path);
        let io = |source| ScaffoldError::Io {
            path: path.clone(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        if file.edit {
            std::fs::write(&path, &file.text).map_err(io)?;
        } else {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .map_err(io)?;
            f.write_all(file.text.as_bytes()).map_err(io)?;
        }
        written.push(file.path.clone());
    }
    Ok(written)
}

/// Formats the Rust files among `written` with `rustfmt` (the workspace's edition), so that
/// the new crates pass `cargo fmt --check` whatever the kind's length. An error says why when
/// `rustfmt` is missing or fails; the files are written either way.
pub fn format(root: &Path, written: &[PathBuf]) -> Result<(), String> {
    let files: Vec<PathBuf> = written
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .map(|p| root.join(p))
        .collect();
    let status = std::process::Command::new("rustfmt")
        .args(["--edition", "2024"])
        .args(&files)
        .status()
        .map_err(|e| format!("could not run rustfmt ({e}); run `cargo fmt --all`"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("rustfmt failed ({status}); run `cargo fmt --all`"))
    }
}

/// What to do next, printed after the files are written.
pub fn next_steps(names: &Names) -> String {
    let k = &names.kind;
    format!(
        "\
next:
  cargo test -p tributary-connector-{k} -p tributary-mock-{k}   # the conformance kit passes as generated
  then follow CONNECTORS.md: the mock first (mocks/{k}, from {t}'s API documentation),
  then the connector (connectors/{k}), then the kit again
  tributary sim serve                                         # serves the {k} mock beside the others",
        t = names.title
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
    }

    #[test]
    fn kinds_are_lower_case_words() {
        let names = Names::new("zendesk").expect("valid");
        assert_eq!(
            (names.title.as_str(), names.upper.as_str()),
            ("Zendesk", "ZENDESK")
        );
        assert!(Names::new("g2crowd").is_ok());
        for bad in ["", "Zendesk", "google-ads", "google_ads", "2u", "zen desk"] {
            assert!(
                matches!(Names::new(bad), Err(ScaffoldError::BadKind(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_plan_renames_every_template_and_registers_the_kind_everywhere() {
        let names = Names::new("zendesk").expect("valid");
        let plan = plan(&repo(), &names).expect("a plan");
        let file = |p: &str| {
            plan.iter()
                .find(|f| f.path == Path::new(p))
                .unwrap_or_else(|| panic!("{p} not planned"))
        };
        for f in plan.iter().filter(|f| !f.edit) {
            for old in ["acme", "Acme", "ACME"] {
                assert!(
                    !f.text.contains(old),
                    "{} still says {old}",
                    f.path.display()
                );
            }
        }
        assert!(
            file("connectors/zendesk/src/lib.rs")
                .text
                .contains("pub const KIND: &str = \"zendesk\";")
        );
        assert!(
            file("mocks/zendesk/Cargo.toml")
                .text
                .contains("name = \"tributary-mock-zendesk\"")
        );
        let cargo = &file("Cargo.toml").text;
        for line in [
            "    \"mocks/zendesk\",\n    \"connectors/zendesk\",\n    # `tributary connector new` adds crates",
            "tributary-connector-zendesk = { path = \"connectors/zendesk\" }\n# `tributary connector new`",
            "tributary-connector-zendesk.workspace = true\n# `tributary connector new`",
        ] {
            assert!(cargo.contains(line), "Cargo.toml lacks {line:?}");
        }
        let parsed: toml::Table = toml::from_str(cargo).expect("Cargo.toml still parses");
        assert!(
            parsed["workspace"]["members"]
                .as_array()
                .is_some_and(|m| { m.iter().any(|v| v.as_str() == Some("connectors/zendesk")) })
        );
        let registry = &file("src/registry.rs").text;
        assert!(registry.contains(
            "    &tributary_connector_zendesk::DECLARATION,\n    // `tributary connector new` adds kinds"
        ));
        assert!(registry.contains("Box::new(tributary_mock_zendesk::ZendeskMock::new(company, faults)),\n    // `tributary connector new` adds mocks"));
        assert!(
            file(".ci/postgres-suites")
                .text
                .ends_with("\ntributary-connector-zendesk conformance conformance::postgres::\n")
        );
    }

    #[test]
    fn an_existing_kind_or_a_tree_without_markers_is_refused() {
        let names = Names::new("hubspot").expect("valid");
        let err = plan(&repo(), &names).expect_err("hubspot exists");
        assert_eq!(
            err.to_string(),
            "connector kind `hubspot` exists already: connectors/hubspot is there"
        );
        let dir = tempfile_dir();
        std::fs::create_dir_all(dir.join("src")).expect("a scratch dir");
        std::fs::write(dir.join("Cargo.toml"), "[workspace]\nmembers = []\n").expect("write");
        std::fs::write(dir.join("src/registry.rs"), "").expect("write");
        let err = plan(&dir, &Names::new("zendesk").expect("valid")).expect_err("no markers");
        assert!(err.to_string().contains("has no line containing"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn writing_never_overwrites_a_new_file() {
        let dir = tempfile_dir();
        let planned = vec![Planned {
            path: "connectors/x/src/lib.rs".into(),
            text: "// one\n".to_owned(),
            edit: false,
        }];
        write(&dir, &planned).expect("first write");
        let err = write(&dir, &planned).expect_err("second write");
        assert!(err.to_string().contains("connectors/x/src/lib.rs"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn tempfile_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "tributary-scaffold-{}-{}",
            std::process::id(),
            uuid::Uuid::now_v7()
        ));
        std::fs::create_dir_all(&dir).expect("a temp dir");
        dir
    }
}
