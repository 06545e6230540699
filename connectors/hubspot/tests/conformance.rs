//! The HubSpot connector against the conformance kit: the definition of done.

mod vendor;

use vendor::HubSpot;

tributary_testkit::conformance_suite!(HubSpot);
