//! The Moodle connector against the conformance kit: the definition of done.

mod vendor;

use vendor::Moodle;

tributary_testkit::conformance_suite!(Moodle);
