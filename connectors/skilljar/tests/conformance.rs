//! The Skilljar connector against the conformance kit: the definition of done.

mod vendor;

use vendor::Skilljar;

tributary_testkit::conformance_suite!(Skilljar);
