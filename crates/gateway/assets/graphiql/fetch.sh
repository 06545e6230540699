#!/usr/bin/env sh
# Re-fetches the GraphiQL page's assets from the npm registry and checks them against
# SHA256SUMS. The gateway embeds these files with `include_bytes!`; nothing is fetched at
# build or run time. Run from anywhere: `crates/gateway/assets/graphiql/fetch.sh`.
# `--check` verifies the committed files without downloading anything.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
cd "$here"

if [ "${1:-}" != "--check" ]; then
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    # package@version  file-in-package  file-here
    while read -r spec from to; do
        name=${spec%@*}
        version=${spec##*@}
        if [ ! -d "$work/$name" ]; then
            (cd "$work" && npm pack --silent "$spec" >/dev/null)
            mkdir -p "$work/$name"
            tar -xzf "$work/$name-$version.tgz" -C "$work/$name"
        fi
        cp "$work/$name/package/$from" "$to"
    done <<'LIST'
graphiql@3.8.3 graphiql.min.js graphiql.min.js
graphiql@3.8.3 graphiql.min.css graphiql.min.css
graphiql@3.8.3 LICENSE LICENSE-graphiql
react@18.3.1 umd/react.production.min.js react.production.min.js
react@18.3.1 LICENSE LICENSE-react
react-dom@18.3.1 umd/react-dom.production.min.js react-dom.production.min.js
react-dom@18.3.1 LICENSE LICENSE-react-dom
LIST
fi

sha256sum --check --strict SHA256SUMS
