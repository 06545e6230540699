//! The README's walkthrough, run as written: the `sh` block after the `walkthrough` marker is
//! executed by bash (`set -euo pipefail`), from a scratch directory, with the binary under
//! test first on `PATH` and `REPO` naming this checkout. If the README drifts from what
//! works, this fails. It binds the ports the README names (4000, 4100, 4101).

use std::path::Path;
use std::process::Command;

const MARKER: &str = "<!-- walkthrough";

/// The walkthrough's commands: the first fenced `sh` block after the marker.
fn walkthrough(readme: &str) -> String {
    let start = readme
        .find(MARKER)
        .expect("README has a walkthrough marker");
    let rest = &readme[start..];
    let open = rest.find("```sh\n").expect("a sh block after the marker") + "```sh\n".len();
    let close = rest[open..].find("\n```").expect("the block ends");
    rest[open..open + close].to_owned()
}

#[test]
fn the_readme_walkthrough_works_from_a_scratch_directory() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(repo.join("README.md")).expect("README.md");
    let block = walkthrough(&readme);
    assert!(block.contains("tributary sync"), "{block}");

    let bin = Path::new(env!("CARGO_BIN_EXE_tributary"));
    let bin_dir = bin.parent().expect("the binary's directory");
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // Background jobs die with the script, whatever happens.
    let script = format!(
        "set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n{block}\nwait\n"
    );
    // The block's `mktemp -d` lands in a directory of this test's, removed afterwards.
    let scratch = std::env::temp_dir().join(format!("tributary-readme-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).expect("a scratch directory");
    let output = Command::new("timeout")
        .args(["600", "bash", "-c", &script])
        .current_dir(&scratch)
        .env("PATH", path)
        .env("REPO", repo)
        .env("TMPDIR", &scratch)
        .env_remove("TRIBUTARY_CONFIG")
        .env_remove("RUST_LOG")
        .output()
        .expect("bash runs");
    let _ = std::fs::remove_dir_all(&scratch);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the walkthrough failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        output.status
    );
    // check-config passed every check; the two syncs ran; the gateway answered the query.
    assert!(stdout.contains("ok "), "{stdout}");
    assert!(!stdout.contains("FAIL"), "{stdout}");
    let answer = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("no GraphQL answer in:\n{stdout}"));
    let answer: serde_json::Value = serde_json::from_str(answer).expect("JSON");
    let total = answer["data"]["accounts"]["totalCount"].as_u64();
    assert!(total.is_some_and(|n| n > 1_000), "{answer}");
    assert_eq!(
        answer["data"]["accounts"]["edges"].as_array().map(Vec::len),
        Some(2),
        "{answer}"
    );
}

#[test]
fn the_walkthrough_is_found_whole() {
    let readme = "x\n<!-- walkthrough: y -->\n```sh\na\nb\n```\n```sh\nc\n```\n";
    assert_eq!(walkthrough(readme), "a\nb");
}
