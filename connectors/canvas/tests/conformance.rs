//! The Canvas connector against the conformance kit: the definition of done.

mod vendor;

use vendor::Canvas;

tributary_testkit::conformance_suite!(Canvas);
