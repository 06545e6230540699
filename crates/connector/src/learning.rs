//! What every LMS connector shares: course metadata (kind, level, tags, the product features a
//! course teaches) taken from the LMS where it has them and otherwise from a mapping in
//! `tributary.toml`, so a catalog that knows nothing of "foundational" or "certification" can
//! still be cut by them.
//!
//! A connector's config embeds [`CourseCatalog`] as its `courses` key:
//!
//! ```toml
//! [connectors.academy.courses]
//! default_kind = "e_learning"        # when neither the LMS nor an entry says
//! default_level = "foundational"
//!
//! [connectors.academy.courses.map."admin-certification"]   # a course id, code or slug
//! kind = "certification"
//! level = "advanced"
//! tags = ["admins"]
//! features = ["workflows", "permissions"]
//! ```
//!
//! Precedence per field: what the LMS says ([`CourseFacts`]), then the course's entry in
//! `map` (matched on any of the course's keys, in the order the connector gives them), then
//! the defaults, then e-learning / foundational. Tags are the union of the LMS's and the
//! entry's; features are the LMS's when it has any, else the entry's.

use serde::Deserialize;
use std::collections::BTreeMap;
use tributary_model::{Course, CourseKind, CourseLevel};

/// The `courses` table of an LMS connector's configuration.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CourseCatalog {
    /// Kind of a course when neither the LMS nor `map` says (default `e_learning`).
    pub default_kind: Option<CourseKind>,
    /// Level of a course when neither the LMS nor `map` says (default `foundational`).
    pub default_level: Option<CourseLevel>,
    /// Per-course metadata, keyed by the course's id, code or slug in the LMS.
    pub map: BTreeMap<String, CourseEntry>,
}

/// One course's metadata in [`CourseCatalog::map`]; every field optional.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CourseEntry {
    /// Delivery format.
    pub kind: Option<CourseKind>,
    /// Level.
    pub level: Option<CourseLevel>,
    /// Tags added to the LMS's own.
    pub tags: Vec<String>,
    /// Product feature keys the course teaches (used when the LMS names none).
    pub features: Vec<String>,
}

/// What the LMS itself says about a course.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CourseFacts {
    /// The keys `map` may use for this course, most specific first (id, then code or slug).
    pub keys: Vec<String>,
    /// Title.
    pub title: String,
    /// Kind, when the LMS records one (a learning-path resource, a custom field).
    pub kind: Option<CourseKind>,
    /// Level, when the LMS records one.
    pub level: Option<CourseLevel>,
    /// The LMS's tags or categories.
    pub tags: Vec<String>,
    /// Product features, when the LMS records them.
    pub features: Vec<String>,
}

impl CourseCatalog {
    /// Checks the mapping: no blank course key, tag or feature. `key` is where the table sits
    /// in the connector's config (`courses`), named in the message.
    pub fn validate(&self, key: &str) -> Result<(), String> {
        for (course, entry) in &self.map {
            if course.trim().is_empty() {
                return Err(format!("{key}.map has an empty course key"));
            }
            if let Some(blank) = entry
                .tags
                .iter()
                .chain(&entry.features)
                .find(|v| v.trim().is_empty())
            {
                return Err(format!(
                    "{key}.map.\"{course}\" has a blank tag or feature ({blank:?})"
                ));
            }
        }
        Ok(())
    }

    /// The entry configured for a course with these keys, if any.
    pub fn entry(&self, keys: &[String]) -> Option<&CourseEntry> {
        keys.iter().find_map(|k| self.map.get(k))
    }

    /// The model course: the LMS's facts completed from the configuration.
    pub fn course(&self, facts: CourseFacts) -> Course {
        let entry = self.entry(&facts.keys);
        let kind = facts
            .kind
            .or_else(|| entry.and_then(|e| e.kind))
            .or(self.default_kind)
            .unwrap_or(CourseKind::ELearning);
        let level = facts
            .level
            .or_else(|| entry.and_then(|e| e.level))
            .or(self.default_level)
            .unwrap_or(CourseLevel::Foundational);
        let mut tags = facts.tags;
        if let Some(e) = entry {
            tags.extend(e.tags.iter().cloned());
        }
        let tags = dedup(tags);
        let features = if facts.features.is_empty() {
            entry.map(|e| e.features.clone()).unwrap_or_default()
        } else {
            facts.features
        };
        Course {
            title: facts.title,
            kind,
            level,
            tags,
            features: dedup(features),
        }
    }
}

/// Trimmed, blanks dropped, first occurrence kept, order otherwise unchanged.
fn dedup(values: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(values.len());
    for v in values {
        let v = v.trim().to_owned();
        if !v.is_empty() && !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> CourseCatalog {
        toml::from_str(
            r#"
            default_level = "advanced"
            [map."c-1"]
            kind = "certification"
            tags = ["admins", "exam"]
            features = ["workflows"]
            [map."intro-slug"]
            level = "foundational"
            "#,
        )
        .unwrap()
    }

    fn facts(keys: &[&str]) -> CourseFacts {
        CourseFacts {
            keys: keys.iter().map(|k| k.to_string()).collect(),
            title: "A course".into(),
            ..CourseFacts::default()
        }
    }

    #[test]
    fn the_lms_wins_then_the_entry_then_the_defaults() {
        let c = catalog();
        let mapped = c.course(facts(&["c-1"]));
        assert_eq!(mapped.kind, CourseKind::Certification);
        assert_eq!(mapped.level, CourseLevel::Advanced, "default_level");
        assert_eq!(mapped.features, vec!["workflows"]);

        let from_lms = c.course(CourseFacts {
            kind: Some(CourseKind::Webinar),
            tags: vec!["live".into(), "admins".into()],
            features: vec!["reports".into()],
            ..facts(&["c-1"])
        });
        assert_eq!(from_lms.kind, CourseKind::Webinar);
        assert_eq!(from_lms.tags, vec!["live", "admins", "exam"], "union, once");
        assert_eq!(from_lms.features, vec!["reports"], "the LMS's features win");

        let by_slug = c.course(facts(&["9", "intro-slug"]));
        assert_eq!(by_slug.level, CourseLevel::Foundational);
        assert_eq!(by_slug.kind, CourseKind::ELearning);

        let unknown = CourseCatalog::default().course(facts(&["x"]));
        assert_eq!(
            (unknown.kind, unknown.level),
            (CourseKind::ELearning, CourseLevel::Foundational)
        );
    }

    #[test]
    fn bad_mappings_name_the_key() {
        let bad: CourseCatalog = toml::from_str(
            r#"
            [map."c-1"]
            features = [" "]
            "#,
        )
        .unwrap();
        let err = bad.validate("courses").unwrap_err();
        assert!(err.contains("courses.map.\"c-1\""), "{err}");
        assert!(toml::from_str::<CourseCatalog>("colour = 1").is_err());
        assert!(toml::from_str::<CourseCatalog>("default_kind = \"lecture\"").is_err());
    }
}
