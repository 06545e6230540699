//! The xAPI push source (`connectors/xapi`) behind the real `tributary serve` process, fed by
//! the simulated sender (`mocks/xapi`): the world's learning activity is stored and folded
//! into enrollments; an invalid batch is refused whole with every reason; replays are
//! harmless and a conflicting PUT is refused; and a server killed (SIGKILL) while many
//! clients post loses no acknowledged statement. On SQLite, and on PostgreSQL when
//! `TRIBUTARY_TEST_POSTGRES_URL` is set.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns may unwrap

use anyhow::{Context, Result, ensure};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use tributary_mock_xapi::{StatementOptions, XapiSender};
use tributary_model::EntityKind;
use tributary_sim::{Company, SimConfig};
use tributary_store::testing::TestDatabase;

const KEY_NAME: &str = "academy";

/// A `tributary serve` process with an xAPI source `lrs` at `/xapi`, killed when dropped.
struct Server {
    child: Child,
    /// `http://host:port/xapi`.
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn write_config(dir: &std::path::Path, db: &str) -> Result<std::path::PathBuf> {
    let config = dir.join("tributary.toml");
    std::fs::write(
        &config,
        format!(
            "database_url = \"{db}\"\nlisten = \"127.0.0.1:0\"\n\n[connectors.lrs]\nkind = \"xapi\"\npath = \"/xapi\"\n\n[connectors.lrs.courses]\ndefault_level = \"advanced\"\n"
        ),
    )?;
    Ok(config)
}

/// A push key for `lrs`, made with `tributary apikey create --push lrs`.
fn push_key(config: &std::path::Path) -> Result<String> {
    let created = Command::new(env!("CARGO_BIN_EXE_tributary"))
        .args([
            "apikey", "create", "--push", "lrs", "--name", KEY_NAME, "--config",
        ])
        .arg(config)
        .output()
        .context("spawn tributary apikey create")?;
    ensure!(
        created.status.success(),
        "apikey create: {}",
        String::from_utf8_lossy(&created.stderr)
    );
    String::from_utf8(created.stdout)?
        .lines()
        .find_map(|l| l.strip_prefix("api key: ").map(str::to_owned))
        .context("apikey create printed no key")
}

impl Server {
    fn start(config: &std::path::Path) -> Result<Self> {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tributary"))
            .args(["serve", "--role", "gateway", "--config"])
            .arg(config)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("spawn tributary serve")?;
        let stdout = child.stdout.take().context("stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let base = loop {
            let line = lines
                .next()
                .context("serve exited before mounting the LRS")??;
            if let Some(rest) = line.strip_prefix("push: lrs (xapi) at ") {
                break rest.to_owned();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Ok(Server { child, base })
    }

    fn request(&self, method: reqwest::Method, query: &str, key: &str) -> reqwest::RequestBuilder {
        reqwest::Client::new()
            .request(method, format!("{}/statements{query}", self.base))
            .basic_auth(KEY_NAME, Some(key))
            .header("X-Experience-API-Version", "1.0.3")
    }
}

fn tempdir() -> Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "tributary-xapi-{}-{}",
        std::process::id(),
        uuid::Uuid::now_v7().simple()
    ));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// One number from the database, read directly (the learning domain has no store reads yet).
async fn scalar(db: &sea_orm::DatabaseConnection, sql: &str) -> Result<i64> {
    let backend = db.get_database_backend();
    let row = db
        .query_one_raw(Statement::from_string(backend, sql.to_owned()))
        .await?
        .context("no row")?;
    Ok(row.try_get_by_index::<i64>(0)?)
}

/// What each (learner, course) pair of the world should fold to.
fn expected_statuses(company: &Company) -> BTreeMap<&'static str, i64> {
    let mut pairs: BTreeMap<(usize, usize), (bool, bool)> = BTreeMap::new();
    for e in &company.enrollments {
        let p = pairs.entry((e.person, e.course)).or_default();
        p.0 |= e.started_at.is_some();
        p.1 |= e.completed_at.is_some();
    }
    let mut out = BTreeMap::new();
    for (started, completed) in pairs.values() {
        let status = match (started, completed) {
            (_, true) => "completed",
            (true, false) => "in_progress",
            _ => "enrolled",
        };
        *out.entry(status).or_default() += 1;
    }
    out
}

#[tokio::test]
async fn the_world_is_stored_folded_into_enrollments_and_replays_and_conflicts_behave() -> Result<()>
{
    let company = Company::generate(&SimConfig {
        accounts: 6,
        ..SimConfig::default()
    });
    let options = StatementOptions::default();
    let statements = tributary_mock_xapi::statements(&company, &options);
    ensure!(statements.len() > 20, "the world has learning activity");
    for db in TestDatabase::all().await? {
        let backend = db.backend;
        let dir = tempdir()?;
        let config = write_config(&dir, &db.url)?;
        // The store exists before the key is made.
        db.store().await?;
        let key = push_key(&config)?;
        let server = Server::start(&config)?;

        // The version header and the key's credentials are required.
        let no_version = reqwest::Client::new()
            .post(format!("{}/statements", server.base))
            .basic_auth(KEY_NAME, Some(&key))
            .json(&statements[0])
            .send()
            .await?;
        ensure!(
            no_version.status() == 400,
            "{backend}: no version header: {}",
            no_version.status()
        );
        let wrong_key = server
            .request(reqwest::Method::POST, "", "trb_wrong")
            .json(&statements[0])
            .send()
            .await?;
        ensure!(
            wrong_key.status() == 401,
            "{backend}: wrong key: {}",
            wrong_key.status()
        );
        let about: Value = reqwest::get(format!("{}/about", server.base))
            .await?
            .json()
            .await?;
        ensure!(about["version"][0] == json!("1.0.3"), "{backend}: {about}");

        // The whole world, in batches of 25.
        let mut sender = XapiSender::new(&server.base, KEY_NAME, &key);
        sender.batch_size = 25;
        let ids = sender.send_all(&statements).await?;
        let sent: Vec<&str> = statements
            .iter()
            .map(|s| s["id"].as_str().unwrap())
            .collect();
        ensure!(
            ids == sent,
            "{backend}: the LRS returns the ids it was sent, in order"
        );

        // A batch with invalid statements: refused whole, each named; the valid ones resubmitted.
        let actor = json!({"mbox": "mailto:grace@example.com", "name": "Grace"});
        let good = |verb: &str| {
            json!({"actor": actor, "verb": {"id": format!("http://adlnet.gov/expapi/verbs/{verb}")},
                   "object": {"id": "https://academy.example.com/courses/extra",
                              "definition": {"name": {"en-US": "Extra"}}}})
        };
        let two_ifis = json!({"actor": {"mbox": "mailto:a@example.com",
                                        "account": {"homePage": "https://x.example.com", "name": "a"}},
                              "verb": {"id": "http://adlnet.gov/expapi/verbs/launched"},
                              "object": {"id": "https://academy.example.com/courses/extra"}});
        let mut bad_score = good("passed");
        bad_score["result"] = json!({"score": {"scaled": 1.2}});
        let batch = json!([good("registered"), two_ifis, good("launched"), bad_score]);
        let refused = server
            .request(reqwest::Method::POST, "", &key)
            .json(&batch)
            .send()
            .await?;
        ensure!(refused.status() == 400, "{backend}: {}", refused.status());
        let message = refused.json::<Value>().await?["message"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        for expected in [
            "2 invalid statement(s), nothing stored",
            "statement 1: actor: an Agent needs exactly one of mbox, mbox_sha1sum, openid, account (found mbox, account)",
            "statement 3: result.score.scaled: 1.2 is outside −1..1",
        ] {
            ensure!(
                message.contains(expected),
                "{backend}: `{expected}` missing from `{message}`"
            );
        }
        let resubmitted = json!([good("registered"), good("launched")]);
        let ok = server
            .request(reqwest::Method::POST, "", &key)
            .json(&resubmitted)
            .send()
            .await?;
        ensure!(
            ok.status() == 200,
            "{backend}: resubmission {}",
            ok.status()
        );
        ensure!(
            ok.headers().get("x-experience-api-version").is_some(),
            "{backend}: the version header is echoed"
        );
        let extra_ids: Vec<String> = ok.json().await?;
        ensure!(extra_ids.len() == 2);

        // A replay of the whole world changes nothing.
        let store = db.store().await?;
        let before = store.content_digest().await?;
        let counts_before = store.counts().await?;
        let again = sender.send_all(&statements).await?;
        ensure!(again == ids, "{backend}: a replay answers the same ids");
        ensure!(
            store.content_digest().await? == before,
            "{backend}: a replay changes nothing"
        );
        let events = counts_before.entities[&EntityKind::LearningEvent];
        ensure!(
            events == statements.len() as u64 + 2,
            "{backend}: {events} learning events for {} statements",
            statements.len() + 2
        );

        // PUT: identical → 204, different → 409.
        let first = statements[0].clone();
        let id = first["id"].as_str().unwrap();
        let put = |body: Value| {
            server
                .request(reqwest::Method::PUT, &format!("?statementId={id}"), &key)
                .json(&body)
                .send()
        };
        ensure!(
            put(first.clone()).await?.status() == 204,
            "{backend}: identical PUT"
        );
        let mut changed = first.clone();
        changed["verb"]["id"] = json!("http://adlnet.gov/expapi/verbs/experienced");
        ensure!(
            put(changed.clone()).await?.status() == 409,
            "{backend}: conflicting PUT"
        );
        let post_conflict = server
            .request(reqwest::Method::POST, "", &key)
            .json(&changed)
            .send()
            .await?;
        ensure!(post_conflict.status() == 409, "{backend}: conflicting POST");
        let got: Value = server
            .request(reqwest::Method::GET, &format!("?statementId={id}"), &key)
            .send()
            .await?
            .json()
            .await?;
        ensure!(
            got["verb"] == first["verb"] && got["authority"]["account"]["name"] == json!(KEY_NAME)
        );

        // Every statement back through `more`, oldest first, 40 a page.
        let mut listed = BTreeSet::new();
        let mut query = "?ascending=true&limit=40".to_owned();
        loop {
            let page = server
                .request(reqwest::Method::GET, &query, &key)
                .send()
                .await?;
            ensure!(
                page.headers()
                    .contains_key("x-experience-api-consistent-through")
            );
            let page: Value = page.json().await?;
            for s in page["statements"].as_array().context("statements")? {
                listed.insert(s["id"].as_str().unwrap().to_owned());
            }
            let more = page["more"].as_str().unwrap_or("");
            if more.is_empty() {
                break;
            }
            query = format!("?{}", more.split_once('?').context("more")?.1);
        }
        ensure!(
            listed.len() == statements.len() + 2,
            "{backend}: {} listed",
            listed.len()
        );

        // Enrollments, people and courses in the store.
        let sql = sea_orm::Database::connect(db.url.as_str()).await?;
        let by_status = expected_statuses(&company);
        for (status, n) in &by_status {
            let got = scalar(
                &sql,
                &format!("SELECT COUNT(*) FROM enrollments WHERE deleted_at IS NULL AND status = '{status}'"),
            )
            .await?;
            // Grace's extra pair is in progress.
            let want = n + i64::from(*status == "in_progress");
            ensure!(
                got == want,
                "{backend}: {got} enrollments {status}, expected {want}"
            );
        }
        let learners: BTreeSet<&str> = company
            .enrollments
            .iter()
            .map(|e| company.contacts[e.person].email.as_str())
            .collect();
        let people = scalar(&sql, "SELECT COUNT(*) FROM people WHERE deleted_at IS NULL").await?;
        ensure!(
            people == learners.len() as i64 + 1,
            "{backend}: {people} people"
        );
        let sample = learners.iter().next().unwrap().to_ascii_lowercase();
        let found = scalar(
            &sql,
            &format!("SELECT COUNT(*) FROM people WHERE email = '{sample}'"),
        )
        .await?;
        ensure!(found == 1, "{backend}: the learner {sample} is a person");
        // The latest verdict of each pair.
        let mut verdicts: BTreeMap<(usize, usize), (chrono::DateTime<chrono::Utc>, bool)> =
            BTreeMap::new();
        for e in &company.enrollments {
            if let (Some(at), Some(passed), Some(_)) = (e.completed_at, e.passed, e.score) {
                let v = verdicts.entry((e.person, e.course)).or_insert((at, passed));
                if at >= v.0 {
                    *v = (at, passed);
                }
            }
        }
        for (verdict, sql_value) in [(true, "TRUE"), (false, "FALSE")] {
            let want = verdicts.values().filter(|v| v.1 == verdict).count() as i64;
            let got = scalar(
                &sql,
                &format!("SELECT COUNT(*) FROM enrollments WHERE passed = {sql_value}"),
            )
            .await?;
            ensure!(
                got == want,
                "{backend}: {got} enrollments with passed = {verdict}, expected {want}"
            );
        }
        ensure!(!verdicts.is_empty(), "the world has graded completions");
        let levels = scalar(
            &sql,
            "SELECT COUNT(*) FROM courses WHERE level <> 'advanced'",
        )
        .await?;
        ensure!(levels == 0, "{backend}: the courses mapping applies");

        // Voiding Grace's launch: hidden, kept for audit, and her enrollment folds back.
        let launched = &extra_ids[1];
        let void = json!({"actor": {"mbox": "mailto:admin@example.com"},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"},
            "object": {"objectType": "StatementRef", "id": launched}});
        let voided = server
            .request(reqwest::Method::POST, "", &key)
            .json(&void)
            .send()
            .await?;
        ensure!(
            voided.status() == 200,
            "{backend}: voiding {}",
            voided.status()
        );
        let get = |q: String| server.request(reqwest::Method::GET, &q, &key).send();
        ensure!(get(format!("?statementId={launched}")).await?.status() == 404);
        ensure!(
            get(format!("?voidedStatementId={launched}"))
                .await?
                .status()
                == 200
        );
        let grace = |status: &str| {
            format!(
                "SELECT COUNT(*) FROM enrollments e JOIN people p ON p.id = e.person_id \
                 WHERE p.email = 'grace@example.com' AND e.status = '{status}'"
            )
        };
        ensure!(
            scalar(&sql, &grace("enrolled")).await? == 1,
            "{backend}: Grace's enrollment folds back"
        );
        ensure!(scalar(&sql, &grace("in_progress")).await? == 0);
        let kept = scalar(
            &sql,
            "SELECT COUNT(*) FROM learning_events WHERE voided = TRUE AND deleted_at IS NOT NULL",
        )
        .await?;
        ensure!(
            kept == 1,
            "{backend}: the voided statement is kept, marked voided"
        );

        drop(server);
        sql.close().await?;
        db.cleanup().await?;
    }
    Ok(())
}

fn synthetic(n: usize, tag: usize) -> Vec<Value> {
    (0..n)
        .map(|i| {
            json!({"id": uuid::Uuid::now_v7().to_string(),
                   "actor": {"mbox": format!("mailto:learner{}@example.com", i % 7)},
                   "verb": {"id": "http://adlnet.gov/expapi/verbs/attempted"},
                   "object": {"id": format!("https://academy.example.com/courses/c{}", (i + tag) % 5)},
                   "result": {"score": {"scaled": 0.5}}})
        })
        .collect()
}

#[tokio::test]
async fn a_server_killed_mid_batch_loses_no_acknowledged_statement() -> Result<()> {
    for db in TestDatabase::all().await? {
        let backend = db.backend;
        let dir = tempdir()?;
        let config = write_config(&dir, &db.url)?;
        db.store().await?;
        let key = push_key(&config)?;
        let mut server = Server::start(&config)?;
        let acknowledged: Arc<Mutex<Vec<String>>> = Arc::default();
        let (enough_tx, mut enough_rx) = tokio::sync::watch::channel(false);
        let mut clients = Vec::new();
        for client in 0..8 {
            let url = format!("{}/statements", server.base);
            let key = key.clone();
            let acknowledged = Arc::clone(&acknowledged);
            let enough_tx = enough_tx.clone();
            clients.push(tokio::spawn(async move {
                let http = reqwest::Client::new();
                // Until the server dies: every 200 is an acknowledgement.
                for round in 0.. {
                    let batch = synthetic(20, client * 1000 + round);
                    let sent = http
                        .post(&url)
                        .basic_auth(KEY_NAME, Some(&key))
                        .header("X-Experience-API-Version", "1.0.3")
                        .json(&batch)
                        .send()
                        .await;
                    let Ok(r) = sent else { break };
                    if r.status() != 200 {
                        break;
                    }
                    let Ok(ids) = r.json::<Vec<String>>().await else {
                        break;
                    };
                    let mut acked = acknowledged.lock().unwrap();
                    acked.extend(ids);
                    if acked.len() >= 400 {
                        let _ = enough_tx.send(true);
                    }
                }
            }));
        }
        // Kill once enough was acknowledged, with batches still in flight.
        enough_rx.wait_for(|enough| *enough).await?;
        server.child.kill()?; // SIGKILL
        server.child.wait()?;
        for c in clients {
            c.await?;
        }
        let acked = acknowledged.lock().unwrap().clone();
        ensure!(
            acked.len() >= 400,
            "{backend}: {} acknowledged",
            acked.len()
        );

        let server = Server::start(&config)?;
        let http = reqwest::Client::new();
        for id in &acked {
            let r = http
                .get(format!("{}/statements?statementId={id}", server.base))
                .basic_auth(KEY_NAME, Some(&key))
                .header("X-Experience-API-Version", "1.0.3")
                .send()
                .await?;
            ensure!(
                r.status() == 200,
                "{backend}: acknowledged statement {id} is lost ({})",
                r.status()
            );
        }
        drop(server);
        db.cleanup().await?;
    }
    Ok(())
}
