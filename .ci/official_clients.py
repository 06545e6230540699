"""Drives the vendors' official Python clients, unmodified, against `tributary sim serve`.

Usage: official_clients.py <serve stdout> <scratch dir>. Run by `.ci/official-clients`.

Each check compares what the official client reads with what the mock serves through plain
HTTP, and fails with the client's own error when the mock refuses a request the real API
accepts.
"""

import csv
import io
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
import traceback
import urllib.parse
import urllib.request

FAILURES = []


def check(name, fn):
    started = time.monotonic()
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - every failure is reported, then the run fails
        FAILURES.append(name)
        print(f"FAIL {name}: {type(e).__name__}: {e}")
        traceback.print_exc(limit=3)
        return
    print(f"ok   {name} ({time.monotonic() - started:.2f}s)")


def expect(what, got, want):
    if got != want:
        raise AssertionError(f"{what}: the official client got {got!r}, the mock serves {want!r}")


def http(method, url, headers=None, data=None):
    """Plain HTTP, no client library: what the mock serves."""
    req = urllib.request.Request(url, method=method, headers=headers or {}, data=data)
    with urllib.request.urlopen(req) as resp:
        return json.loads(resp.read())


# -- A TLS front for the Salesforce mock ------------------------------------------------------
# simple-salesforce builds every URL as `https://{instance}/…`; the mock serves plain HTTP on
# loopback. A self-signed certificate for 127.0.0.1, trusted through the `session` the client
# accepts, and a byte pump in front of the mock: the client itself is untouched.


def tls_front(backend_port, scratch):
    cert, key = f"{scratch}/cert.pem", f"{scratch}/key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", key, "-out", cert],
        check=True, capture_output=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)

    def pump(src, dst):
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def serve():
        while True:
            conn, _ = listener.accept()
            try:
                tls = context.wrap_socket(conn, server_side=True)
            except (ssl.SSLError, OSError):
                conn.close()
                continue
            backend = socket.create_connection(("127.0.0.1", backend_port))
            threading.Thread(target=pump, args=(tls, backend), daemon=True).start()
            threading.Thread(target=pump, args=(backend, tls), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    return listener.getsockname()[1], cert


def salesforce(base, hint, scratch):
    import requests
    from simple_salesforce import Salesforce

    creds = dict(kv.split("=", 1) for kv in hint.split())
    token = http("POST", base + creds["token_path"], data=urllib.parse.urlencode({
        "grant_type": "refresh_token", "client_id": creds["client_id"],
        "client_secret": creds["client_secret"], "refresh_token": creds["refresh_token"],
    }).encode(), headers={"Content-Type": "application/x-www-form-urlencoded"})
    auth = {"Authorization": "Bearer " + token["access_token"]}

    def served(soql, all_rows=False):
        """Every record of a query, read over plain HTTP."""
        url = f"{base}/services/data/v59.0/{'queryAll' if all_rows else 'query'}?" + \
            urllib.parse.urlencode({"q": soql})
        records = []
        while True:
            page = http("GET", url, auth)
            records += page["records"]
            if page["done"]:
                return records
            url = base + page["nextRecordsUrl"]

    port, cert = tls_front(int(urllib.parse.urlparse(base).port), scratch)
    session = requests.Session()
    session.verify = cert
    # requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override a session's `verify`.
    os.environ["REQUESTS_CA_BUNDLE"] = os.environ["CURL_CA_BUNDLE"] = cert
    sf = Salesforce(instance_url=f"https://127.0.0.1:{port}",
                    session_id=token["access_token"], session=session)

    accounts = served("SELECT Id, Name FROM Account")
    contacts = served("SELECT Id FROM Contact")

    def query():
        got = sf.query("SELECT Id, Name FROM Account")
        expect("query Account totalSize", got["totalSize"], len(accounts))
        expect("query Account ids", sorted(r["Id"] for r in got["records"]),
               sorted(r["Id"] for r in accounts))

    def query_all_paged():
        # batchSize=200 (the smallest Salesforce allows) so the contacts take several batches.
        got = sf.query_all("SELECT Id FROM Contact", include_deleted=True,
                           headers={"Sforce-Query-Options": "batchSize=200"})
        want = served("SELECT Id FROM Contact", all_rows=True)
        if len(want) <= 200:
            raise AssertionError(f"only {len(want)} contacts: too few to page")
        expect("query_all Contact ids", sorted(r["Id"] for r in got["records"]),
               sorted(r["Id"] for r in want))
        expect("query_all Contact live subset", len(contacts) <= len(want), True)

    def query_more():
        first = sf.query("SELECT Id FROM Contact", headers={"Sforce-Query-Options": "batchSize=200"})
        if first["done"]:
            raise AssertionError("the first batch of contacts is the last")
        more = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
        locator = first["nextRecordsUrl"].rsplit("/", 1)[1]
        again = sf.query_more(locator)
        expect("query_more by URL and by locator", more["records"], again["records"])

    def describe():
        got = sf.Account.describe()
        expect("describe name", got["name"], "Account")
        served_fields = http("GET", f"{base}/services/data/v59.0/sobjects/Account/describe", auth)
        expect("describe fields", [f["name"] for f in got["fields"]],
               [f["name"] for f in served_fields["fields"]])

    def describe_global():
        names = [o["name"] for o in sf.describe()["sobjects"]]
        for name in ("Account", "Contact", "Opportunity"):
            if name not in names:
                raise AssertionError(f"describe() lists no {name}: {names}")

    def get_record():
        got = sf.Account.get(accounts[0]["Id"])
        expect("Account.get Id", got["Id"], accounts[0]["Id"])
        expect("Account.get Name", got["Name"], accounts[0]["Name"])

    def bulk2():
        rows = []
        for chunk in sf.bulk2.Account.query("SELECT Id, Name FROM Account", max_records=25,
                                            wait=0.1):
            rows += list(csv.DictReader(io.StringIO(chunk)))
        expect("bulk2 Account ids", sorted(r["Id"] for r in rows),
               sorted(r["Id"] for r in accounts))

    def errors():
        from simple_salesforce.exceptions import SalesforceMalformedRequest
        try:
            sf.query("SELECT NoSuchField FROM Account")
        except SalesforceMalformedRequest as e:
            expect("error body errorCode", e.content[0]["errorCode"], "INVALID_FIELD")
        else:
            raise AssertionError("a query of an unknown field was answered")

    check("salesforce query", query)
    check("salesforce error body", errors)
    check("salesforce query_all (nextRecordsUrl)", query_all_paged)
    check("salesforce query_more", query_more)
    check("salesforce describe", describe)
    check("salesforce global describe", describe_global)
    check("salesforce sObject get", get_record)
    check("salesforce bulk2 query", bulk2)


def hubspot(base, hint):
    from hubspot import HubSpot
    from hubspot.crm.companies import PublicObjectSearchRequest

    token = dict(kv.split("=", 1) for kv in hint.split())["access_token"]
    auth = {"Authorization": "Bearer " + token}
    client = HubSpot(access_token=token, host=base)

    def served(kind):
        ids, after = [], None
        while True:
            url = f"{base}/crm/v3/objects/{kind}?limit=100" + (f"&after={after}" if after else "")
            page = http("GET", url, auth)
            ids += [r["id"] for r in page["results"]]
            after = page.get("paging", {}).get("next", {}).get("after")
            if not after:
                return ids

    apis = {
        "companies": client.crm.companies,
        "contacts": client.crm.contacts,
        "deals": client.crm.deals,
    }
    for kind, api in apis.items():
        want = served(kind)

        def get_page(api=api, want=want, kind=kind):
            page = api.basic_api.get_page(limit=10)
            expect(f"{kind} get_page ids", [r.id for r in page.results], want[:10])
            after = page.paging.next.after
            second = api.basic_api.get_page(limit=10, after=after)
            expect(f"{kind} second page ids", [r.id for r in second.results], want[10:20])

        def get_all(api=api, want=want, kind=kind):
            got = api.get_all()
            expect(f"{kind} get_all ids", [r.id for r in got], want)

        def get_by_id(api=api, want=want, kind=kind):
            got = api.basic_api.get_by_id(want[0])
            expect(f"{kind} get_by_id id", got.id, want[0])

        def search(api=api, want=want, kind=kind):
            got = api.search_api.do_search(public_object_search_request=PublicObjectSearchRequest(
                filter_groups=[], sorts=[], properties=[], limit=100, after="0"))
            expect(f"{kind} search total", got.total, len(want))

        def not_found(api=api, kind=kind):
            try:
                api.basic_api.get_by_id("999999999999")
            except Exception as e:  # noqa: BLE001 - each object's package has its own ApiException
                if getattr(e, "status", None) != 404:
                    raise
                expect(f"{kind} 404 category", json.loads(e.body)["category"], "OBJECT_NOT_FOUND")
            else:
                raise AssertionError("an unknown id was answered")

        check(f"hubspot {kind} get_page", get_page)
        check(f"hubspot {kind} error body", not_found)
        check(f"hubspot {kind} get_all", get_all)
        check(f"hubspot {kind} get_by_id", get_by_id)
        check(f"hubspot {kind} search", search)

# -- Moodle: moodlepy ---------------------------------------------------------------------------
# moodlepy (the most used Moodle web-services client on PyPI) against the Moodle mock: its typed
# wrappers structure each answer into attrs classes, so a missing or mistyped field fails here.


def moodle(base, hint):
    from moodle import Moodle, MoodleException
    from moodle.base.general import GeneralNameValue

    token = hint.split("=", 1)[1] if "=" in hint else hint
    server = f"{base}/webservice/rest/server.php"
    client = Moodle(server, token)

    def plain(function, **params):
        data = urllib.parse.urlencode({"wstoken": token, "wsfunction": function,
                                       "moodlewsrestformat": "json", **params}).encode()
        return http("POST", server, {"Content-Type": "application/x-www-form-urlencoded"}, data)

    courses = plain("core_course_get_courses")
    busiest = max(courses[1:], key=lambda c: len(plain("core_enrol_get_enrolled_users",
                                                         courseid=c["id"])))["id"]
    users = plain("core_enrol_get_enrolled_users", courseid=busiest)

    def site_info():
        info = client.core.webservice.get_site_info()
        expect("site name", info.sitename, "Customer Academy")
        expect("site functions", "core_enrol_get_enrolled_users" in [f.name for f in info.functions], True)

    def get_courses():
        got = client.core.course.get_courses()
        expect("course ids", [c.id for c in got], [c["id"] for c in courses])
        picked = client.core.course.get_courses(ids=[busiest])
        expect("course by id", [c.id for c in picked], [busiest])

    def courses_by_field():
        got = client.core.course.get_courses_by_field("id", str(busiest))
        expect("course by field", [c.id for c in got.courses], [busiest])

    def enrolled_users():
        got = client.core.enrol.get_enrolled_users(busiest, [])
        expect("enrolled user ids", [u.id for u in got], [u["id"] for u in users])
        page = client.core.enrol.get_enrolled_users(busiest, [
            GeneralNameValue(name="limitfrom", value="2"),
            GeneralNameValue(name="limitnumber", value="3")])
        expect("a page of enrolled users", [u.id for u in page], [u["id"] for u in users[2:5]])

    def completion_and_grades():
        for user in users:
            mine = client("core_enrol_get_users_courses", userid=user["id"])
            done = [c for c in mine if c["id"] == busiest and c["completed"]]
            if not done:
                continue
            status = client.core.completion.get_course_completion_status(busiest, user["id"])
            expect("completed", status.completionstatus.completed, True)
            report = client.grade_report.user.get_user_grades(busiest, user["id"])
            kinds = [i.itemtype for i in report.usergrades[0].gradeitems]
            expect("course total item", "course" in kinds, True)
            return
        raise AssertionError(f"no completed learner in course {busiest}")

    def users_by_field():
        email = users[0]["email"]
        got = client("core_user_get_users_by_field", field="email", values=[email])
        expect("user by email", [u["id"] for u in got], [users[0]["id"]])

    def exceptions():
        try:
            Moodle(server, "wrong-token").core.webservice.get_site_info()
        except MoodleException as e:
            expect("errorcode", e.errorcode, "invalidtoken")
        else:
            raise AssertionError("an invalid token was accepted")

    check("moodle get_site_info", site_info)
    check("moodle get_courses", get_courses)
    check("moodle get_courses_by_field", courses_by_field)
    check("moodle get_enrolled_users (paged)", enrolled_users)
    check("moodle completion status and grade report", completion_and_grades)
    check("moodle get_users_by_field", users_by_field)
    check("moodle invalidtoken exception", exceptions)


# -- Canvas LMS: canvasapi ---------------------------------------------------------------------
# canvasapi (ucfopen) against the Canvas mock: account courses, users and a course's enrollments
# through its PaginatedList (which follows the `Link: rel="next"` header), and its error classes.


def canvas(base, hint):
    import warnings

    from canvasapi import Canvas
    from canvasapi.exceptions import InvalidAccessToken, ResourceDoesNotExist

    warnings.simplefilter("ignore", UserWarning)  # "use HTTPS": the mock is plain HTTP
    token = dict(kv.split("=", 1) for kv in hint.split())["access_token"]
    auth = {"Authorization": "Bearer " + token}
    client = Canvas(base, token)

    def served(path):
        """Every record of a listing, read over plain HTTP following `Link: rel="next"`."""
        url, records = base + path, []
        while url:
            req = urllib.request.Request(url, headers=auth)
            with urllib.request.urlopen(req) as resp:
                records += json.loads(resp.read())
                links = resp.headers.get("Link", "")
            url = None
            for part in links.split(","):
                if 'rel="next"' in part:
                    url = part.split(">")[0].strip().lstrip("<")
        return records

    courses = served("/api/v1/accounts/self/courses?per_page=100")
    all_states = "&".join(f"state[]={s}" for s in
                          ("active", "invited", "completed", "inactive", "deleted"))

    def current_user():
        expect("current user id", client.get_current_user().id, http(
            "GET", base + "/api/v1/users/self", auth)["id"])

    def account_courses():
        account = client.get_account(1)
        got = account.get_courses(include=["total_students", "term"], per_page=7)
        expect("account courses ids", [c.id for c in got], [c["id"] for c in courses])
        if len(courses) <= 7:
            raise AssertionError(f"only {len(courses)} courses: too few to page")

    def account_users():
        want = served("/api/v1/accounts/self/users?include[]=email&per_page=100")
        got = list(client.get_account(1).get_users(include=["email"], per_page=25))
        expect("account users ids", [u.id for u in got], [u["id"] for u in want])
        expect("account users emails", [u.email for u in got], [u["email"] for u in want])
        expect("sis_user_id carried", all(u.sis_user_id for u in got), True)

    def course_enrollments():
        busiest = max(courses, key=lambda c: len(served(
            f"/api/v1/courses/{c['id']}/enrollments?per_page=100&{all_states}")))
        course = client.get_course(busiest["id"])
        expect("get_course name", course.name, busiest["name"])
        want = served(f"/api/v1/courses/{course.id}/enrollments?per_page=100&{all_states}")
        got = course.get_enrollments(
            state=["active", "invited", "completed", "inactive", "deleted"],
            type=["StudentEnrollment"], per_page=5)
        expect("enrollment ids (every state, bookmark paging)", [e.id for e in got],
               [e["id"] for e in want])
        if len(want) <= 5:
            raise AssertionError(f"only {len(want)} enrollments: too few to page")
        default = [e.id for e in course.get_enrollments(per_page=5)]
        expect("enrollment ids (default: active and invited)", default, [
            e["id"] for e in want if e["enrollment_state"] in ("active", "invited")])

    def errors():
        try:
            Canvas(base, "not-a-token").get_current_user()
        except InvalidAccessToken:
            pass
        else:
            raise AssertionError("a bad token was accepted")
        try:
            client.get_course(999999999)
        except ResourceDoesNotExist:
            pass
        else:
            raise AssertionError("an unknown course was answered")

    check("canvas current user", current_user)
    check("canvas errors (InvalidAccessToken, ResourceDoesNotExist)", errors)
    check("canvas account courses (Link paging)", account_courses)
    check("canvas account users (include[]=email)", account_users)
    check("canvas course enrollments (state[], type[], bookmarks)", course_enrollments)

# -- end of Canvas LMS -------------------------------------------------------------------------


def main():
    serve_out, scratch = sys.argv[1], sys.argv[2]
    mocks = {}
    for line in open(serve_out):
        vendor, base, hint = (line.rstrip("\n").split(" ", 2) + [""])[:3]
        mocks[vendor] = (base.rstrip("/"), hint)
    started = time.monotonic()
    salesforce(mocks["salesforce"][0], mocks["salesforce"][1], scratch)
    hubspot(mocks["hubspot"][0], mocks["hubspot"][1])
    canvas(mocks["canvas"][0], mocks["canvas"][1])  # Canvas LMS
    moodle(mocks["moodle"][0], mocks["moodle"][1])
    print(f"official clients: {time.monotonic() - started:.1f}s")
    if FAILURES:
        print(f"{len(FAILURES)} official-client check(s) failed against the mocks: "
              + ", ".join(FAILURES), file=sys.stderr)
        sys.exit(1)


# == xAPI: TinCanPython against `tributary serve`'s xAPI source ===============================
# Usage: official_clients.py xapi <LRS base, e.g. http://127.0.0.1:PORT/xapi> <key name> <key>.
# Not a mock: the endpoint is the xapi push source itself; the client is `tincan` (Rustici's
# TinCanPython), unmodified.


def xapi(base, user, key):
    import datetime
    import uuid

    from tincan import (Activity, ActivityDefinition, Agent, LanguageMap, RemoteLRS, Result,
                        Score, Statement, Verb)

    lrs = RemoteLRS(endpoint=base.rstrip("/") + "/", username=user, password=key, version="1.0.3")
    run = uuid.uuid4().hex[:8]
    learner = Agent(name="Ada Lovelace", mbox=f"mailto:ada-{run}@example.com")
    course = Activity(id=f"https://academy.example.com/courses/intro-{run}",
                      definition=ActivityDefinition(name=LanguageMap({"en-US": "Intro"}),
                                                    type="http://adlnet.gov/expapi/activities/course"))

    def statement(verb, **kwargs):
        return Statement(actor=learner,
                         verb=Verb(id=f"http://adlnet.gov/expapi/verbs/{verb}",
                                   display=LanguageMap({"en-US": verb})),
                         object=course, **kwargs)

    saved = {}

    def about():
        r = lrs.about()
        if not r.success:
            raise AssertionError(f"about: HTTP {r.response.status}: {r.data}")
        expect("about versions", "1.0.3" in r.content.version, True)

    def save_put():
        s = statement("registered", id=str(uuid.uuid4()))
        r = lrs.save_statement(s)
        if not r.success:
            raise AssertionError(f"PUT: HTTP {r.response.status}: {r.data}")
        saved["put"] = str(s.id)
        # The same statement again is a replay.
        r = lrs.save_statement(s)
        expect("PUT replay status", r.response.status, 204)

    def save_post():
        s = statement("passed", result=Result(score=Score(scaled=0.9), success=True, completion=True))
        r = lrs.save_statement(s)
        if not r.success:
            raise AssertionError(f"POST: HTTP {r.response.status}: {r.data}")
        saved["post"] = str(r.content.id)
        batch = [statement("attempted") for _ in range(5)]
        r = lrs.save_statements(batch)
        if not r.success:
            raise AssertionError(f"POST batch: HTTP {r.response.status}: {r.data}")
        saved["batch"] = [str(x.id) for x in r.content]
        expect("batch ids", len(saved["batch"]), 5)

    def retrieve():
        r = lrs.retrieve_statement(saved["post"])
        if not r.success:
            raise AssertionError(f"GET: HTTP {r.response.status}: {r.data}")
        got = r.content
        expect("retrieved id", str(got.id), saved["post"])
        expect("retrieved verb", got.verb.id, "http://adlnet.gov/expapi/verbs/passed")
        expect("retrieved score", got.result.score.scaled, 0.9)
        expect("stored is set", got.stored is not None, True)
        expect("authority is the key", got.authority.account.name, user)

    def conflict():
        s = statement("failed", id=saved["put"])
        r = lrs.save_statement(s)
        expect("conflicting PUT status", r.response.status, 409)

    def query_more():
        since = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)
        r = lrs.query_statements({"agent": learner, "limit": 2, "ascending": True, "since": since})
        if not r.success:
            raise AssertionError(f"query: HTTP {r.response.status}: {r.data}")
        ids = [str(s.id) for s in r.content.statements]
        pages = 1
        more = r.content.more
        while more:
            r = lrs.more_statements(r.content)
            if not r.success:
                raise AssertionError(f"more: HTTP {r.response.status}: {r.data}")
            ids += [str(s.id) for s in r.content.statements]
            more = r.content.more
            pages += 1
        want = sorted([saved["put"], saved["post"]] + saved["batch"])
        expect("statements through more", sorted(ids), want)
        expect("several pages", pages >= 4, True)

    check("xapi about", about)
    check("xapi save_statement (PUT, replay)", save_put)
    check("xapi save_statement(s) (POST)", save_post)
    check("xapi retrieve_statement", retrieve)
    check("xapi conflicting PUT", conflict)
    check("xapi query_statements + more_statements", query_more)


def xapi_main():
    started = time.monotonic()
    xapi(*sys.argv[2:5])
    print(f"official clients (xAPI): {time.monotonic() - started:.1f}s")
    if FAILURES:
        print(f"{len(FAILURES)} official-client check(s) failed against the xAPI source: "
              + ", ".join(FAILURES), file=sys.stderr)
        sys.exit(1)
# == end xAPI =====================================================================================


if len(sys.argv) > 1 and sys.argv[1] == "xapi":
    xapi_main()
else:
    main()
