// PostGraphile 5 for `cargo bench --bench peers`: the Amber preset over Tributary's own
// tables (schema `public`), production settings (no GraphiQL, no watch, no explain).
// Our tables carry no foreign keys, so smart tags declare the two relations the account-360
// query follows (people.account_id and subscriptions.account_id → accounts.id), rename the
// `subscriptions` table's type (`Subscription` is GraphQL's root subscription type), and let
// the queries filter on `deleted_at` and order people by name as ours do (PostGraphile only
// offers indexed columns by default); nothing in our schema changes. The bench copies this file beside the npm install in its cache
// directory, so the imports resolve there. Environment: DATABASE_URL, PORT.
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { makePgService } from "postgraphile/adaptors/pg";
import { makeJSONPgSmartTagsPlugin } from "postgraphile/utils";

const relations = makeJSONPgSmartTagsPlugin({
  version: 1,
  config: {
    class: {
      people: { tags: { foreignKey: "(account_id) references accounts (id)" } },
      subscriptions: {
        tags: {
          name: "account_subscription",
          foreignKey: "(account_id) references accounts (id)",
        },
      },
    },
    attribute: {
      "accounts.deleted_at": { tags: { behavior: ["+filterBy"] } },
      "people.deleted_at": { tags: { behavior: ["+filterBy"] } },
      "people.name": { tags: { behavior: ["+orderBy"] } },
      "subscriptions.deleted_at": { tags: { behavior: ["+filterBy"] } },
    },
  },
});

/** @type {GraphileConfig.Preset} */
const preset = {
  extends: [PostGraphileAmberPreset],
  plugins: [relations],
  pgServices: [
    makePgService({ connectionString: process.env.DATABASE_URL, schemas: ["public"] }),
  ],
  grafserv: {
    host: "127.0.0.1",
    port: Number(process.env.PORT),
    graphiql: false,
    watch: false,
  },
  grafast: { explain: false },
};

export default preset;
