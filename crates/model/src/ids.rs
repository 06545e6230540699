//! Typed ids. Every id is a UUIDv7 so ids sort by creation time and never collide across
//! processes that insert concurrently.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! typed_id {
    ($($(#[$meta:meta])* $name:ident;)*) => {$(
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh, time-ordered id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }
    )*};
}

typed_id! {
    /// Our id of an [`crate::Account`].
    AccountId;
    /// Our id of a [`crate::Person`].
    PersonId;
    /// Our id of a [`crate::Subscription`].
    SubscriptionId;
    /// Our id of a [`crate::RevenueEvent`].
    RevenueEventId;
    /// Our id of a [`crate::Course`].
    CourseId;
    /// Our id of an [`crate::Enrollment`].
    EnrollmentId;
    /// Our id of a [`crate::UsageEvent`].
    UsageEventId;
    /// Our id of a [`crate::Ticket`].
    TicketId;
    /// Our id of one sync run.
    SyncRunId;
}
