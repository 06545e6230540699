"""dlt's `rest_api` source reading the simulator's HubSpot mock into PostgreSQL.

The peer of `tributary sync --stream companies --stream contacts` in `benches/peers.rs`:
the same list endpoint, the same properties (and the contacts' company associations), the
vendor's largest page (100), HubSpot's cursor (`paging.next.after` sent back as `after`),
merge write disposition on `id`. Settings are dlt's defaults otherwise, as a new user would
run it.

Environment: HUBSPOT_BASE_URL, HUBSPOT_ACCESS_TOKEN, DLT_POSTGRES_URL, DLT_PIPELINES_DIR.
Prints one JSON line on stdout: {"records": N, "row_counts": {...}, "dlt": "<version>"}.
"""

import json
import os
from urllib.parse import urlsplit, urlunsplit

import dlt
from dlt.sources.rest_api import rest_api_source

COMPANY_PROPERTIES = [
    "name", "domain", "industry", "country", "region", "segment", "numberofemployees",
    "seats", "hubspot_owner_id", "createdate", "hs_lastmodifieddate",
]
CONTACT_PROPERTIES = [
    "firstname", "lastname", "email", "jobtitle", "role", "createdate", "lastmodifieddate",
]
STREAMS = ("companies", "contacts")


def postgres_url() -> str:
    """DLT_POSTGRES_URL; dlt insists on a password, so a URL without one (a server trusting
    local connections) gets a placeholder the server ignores."""
    url = urlsplit(os.environ["DLT_POSTGRES_URL"])
    if url.password is None and url.username:
        host = url.netloc.split("@", 1)[1]
        url = url._replace(netloc=f"{url.username}:unused@{host}")
    return urlunsplit(url)


def main() -> None:
    source = rest_api_source(
        {
            "client": {
                "base_url": os.environ["HUBSPOT_BASE_URL"],
                "auth": {"type": "bearer", "token": os.environ["HUBSPOT_ACCESS_TOKEN"]},
                "paginator": {
                    "type": "cursor",
                    "cursor_path": "paging.next.after",
                    "cursor_param": "after",
                },
            },
            "resource_defaults": {
                "primary_key": "id",
                "write_disposition": "merge",
                "endpoint": {"data_selector": "results"},
            },
            "resources": [
                {
                    "name": "companies",
                    "endpoint": {
                        "path": "crm/v3/objects/companies",
                        "params": {"limit": 100, "properties": ",".join(COMPANY_PROPERTIES)},
                    },
                },
                {
                    "name": "contacts",
                    "endpoint": {
                        "path": "crm/v3/objects/contacts",
                        "params": {
                            "limit": 100,
                            "properties": ",".join(CONTACT_PROPERTIES),
                            "associations": "companies",
                        },
                    },
                },
            ],
        }
    )
    pipeline = dlt.pipeline(
        pipeline_name="tributary_bench_hubspot",
        pipelines_dir=os.environ["DLT_PIPELINES_DIR"],
        destination=dlt.destinations.postgres(credentials=postgres_url()),
        dataset_name="hubspot",
    )
    pipeline.run(source)
    counts = pipeline.last_trace.last_normalize_info.row_counts
    print(
        json.dumps(
            {
                "records": sum(counts.get(s, 0) for s in STREAMS),
                "row_counts": counts,
                "dlt": dlt.__version__,
            }
        )
    )


if __name__ == "__main__":
    main()
