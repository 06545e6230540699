//! The Acme connector against the conformance kit: the definition of done.

mod vendor;

use vendor::Acme;

tributary_testkit::conformance_suite!(Acme);
