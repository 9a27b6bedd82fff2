//! The parts of a user's profile they edit themselves: a display name (encrypted under the
//! user's data key, like the email) and a small map of preferences. Served by the `account`
//! function (`PATCH /me`, `GET/PUT /me/preferences`); listed in the privacy data map.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};
use unicode_normalization::UnicodeNormalization;

use crate::crypto::user_keys::UserKeys;
use crate::table::{Condition, Item, Key, Table, Update};
use crate::users::{Profile, attr, profile_key};
use crate::{Error, Result};

pub const DISPLAY_NAME_MAX_CHARS: usize = 100;
pub const PREFERENCES_MAX_KEYS: usize = 50;
pub const PREFERENCE_NAME_MAX: usize = 64;
pub const PREFERENCE_VALUE_MAX: usize = 256;
/// The serialized preferences never exceed this.
pub const PREFERENCES_MAX_BYTES: usize = 4096;

const DISPLAY_NAME_FIELD: &str = "profile.display_name";

/// The preferences item's attribute holding them, sealed under the user's data key.
const PREFERENCES_ATTRIBUTE: &str = "sealed_preferences";
/// The field name bound into the seal (a sealed value cannot be moved to another field).
const PREFERENCES_FIELD: &str = "profile.preferences";

pub fn preferences_key(user_id: &str) -> Key {
    Key::new(crate::table::schema::user_partition(user_id), "PREFERENCES")
}

/// `PATCH /me`: fields absent stay as they are; `display_name: null` or `""` removes it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfilePatch {
    #[serde(default, deserialize_with = "present")]
    pub display_name: Option<Option<String>>,
}

/// Distinguishes a field sent as `null` (`Some(None)`) from an absent one (`None`).
fn present<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// NFC, trimmed, 1 to 100 characters, no control characters.
pub fn validate_display_name(raw: &str) -> Result<String> {
    let name: String = raw.trim().nfc().collect();
    if name.chars().count() > DISPLAY_NAME_MAX_CHARS {
        return Err(Error::invalid(
            "display_name",
            format!("at most {DISPLAY_NAME_MAX_CHARS} characters"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::invalid(
            "display_name",
            "must not contain control characters",
        ));
    }
    Ok(name)
}

/// Applies a patch to the profile (which must exist); the profile after it, if anything changed.
pub async fn apply_patch(
    table: &dyn Table,
    user_keys: &UserKeys,
    user_id: &str,
    patch: ProfilePatch,
) -> Result<Option<Profile>> {
    let Some(change) = patch.display_name else {
        return Ok(None);
    };
    let name = change.map(|n| validate_display_name(&n)).transpose()?;
    let update = match name.filter(|n| !n.is_empty()) {
        Some(n) => Update::new().set(
            attr::DISPLAY_NAME,
            user_keys
                .seal(user_id, DISPLAY_NAME_FIELD, n.as_bytes())
                .await?,
        ),
        None => Update::new().remove(attr::DISPLAY_NAME),
    };
    table
        .update(&profile_key(user_id), update.when(Condition::Exists))
        .await
        .map_err(|e| match e {
            Error::ConditionFailed => Error::Unauthorized,
            e => e,
        })
        .and_then(|item| Profile::from_item(&item))
        .map(Some)
}

/// The display name stored on a profile, decrypted.
pub async fn display_name(user_keys: &UserKeys, profile: &Profile) -> Result<Option<String>> {
    match &profile.sealed_display_name {
        Some(sealed) => {
            let plain = user_keys
                .open(&profile.user_id, DISPLAY_NAME_FIELD, sealed)
                .await?;
            String::from_utf8(plain)
                .map(Some)
                .map_err(|_| Error::Decryption)
        }
        None => Ok(None),
    }
}

/// A user's preferences: a flat JSON object of short names to strings, numbers or booleans.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Preferences(pub Map<String, Json>);

impl Preferences {
    /// Checks the shape and size limits; every violation is named.
    pub fn validate(&self) -> Result<()> {
        if self.0.len() > PREFERENCES_MAX_KEYS {
            return Err(Error::invalid(
                "preferences",
                format!("at most {PREFERENCES_MAX_KEYS} entries"),
            ));
        }
        for (name, value) in &self.0 {
            let name_ok = !name.is_empty()
                && name.len() <= PREFERENCE_NAME_MAX
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
            if !name_ok {
                return Err(Error::invalid(
                    "preferences",
                    format!(
                        "names are 1 to {PREFERENCE_NAME_MAX} characters of a-z, 0-9, '_', '-', '.'"
                    ),
                ));
            }
            let value_ok = match value {
                Json::String(s) => s.chars().count() <= PREFERENCE_VALUE_MAX,
                Json::Bool(_) | Json::Number(_) => true,
                _ => false,
            };
            if !value_ok {
                return Err(Error::invalid(
                    format!("preferences.{name}").as_str(),
                    format!(
                        "a string of at most {PREFERENCE_VALUE_MAX} characters, a number or a boolean"
                    ),
                ));
            }
        }
        if self.to_json()?.len() > PREFERENCES_MAX_BYTES {
            return Err(Error::invalid(
                "preferences",
                format!("at most {PREFERENCES_MAX_BYTES} bytes"),
            ));
        }
        Ok(())
    }

    fn to_json(&self) -> Result<String> {
        serde_json::to_string(&self.0).map_err(|e| Error::internal("JSON encoding", e))
    }

    /// The user's preferences, decrypted (an item written before they were encrypted is read
    /// as it was stored, and encrypted at its next change).
    pub async fn load(table: &dyn Table, user_keys: &UserKeys, user_id: &str) -> Result<Self> {
        let Some(item) = table.get(&preferences_key(user_id)).await? else {
            return Ok(Preferences::default());
        };
        let raw = match (item.b(PREFERENCES_ATTRIBUTE), item.s("preferences")) {
            (Some(sealed), _) => user_keys.open(user_id, PREFERENCES_FIELD, sealed).await?,
            (None, Some(clear)) => clear.as_bytes().to_vec(),
            (None, None) => return Ok(Preferences::default()),
        };
        serde_json::from_slice(&raw)
            .map(Preferences)
            .map_err(|_| Error::Malformed("preferences item"))
    }

    /// Replaces the user's preferences (validated first), encrypted under the user's data key
    /// like the display name: a backup of the table holds them unreadable once the key is
    /// shredded.
    pub async fn store(
        &self,
        table: &dyn Table,
        user_keys: &UserKeys,
        user_id: &str,
    ) -> Result<()> {
        self.validate()?;
        let sealed = user_keys
            .seal(user_id, PREFERENCES_FIELD, self.to_json()?.as_bytes())
            .await?;
        let item = Item::new(&preferences_key(user_id)).with(PREFERENCES_ATTRIBUTE, sealed);
        table.put(item, None).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_are_trimmed_normalised_and_bounded() {
        assert_eq!(validate_display_name("  Ada  ").unwrap(), "Ada");
        assert_eq!(validate_display_name("e\u{301}").unwrap(), "\u{e9}");
        assert!(validate_display_name(&"x".repeat(101)).is_err());
        assert!(validate_display_name("a\u{7}b").is_err());
    }

    #[test]
    fn preferences_reject_nested_values_bad_names_and_oversize() {
        let ok: Preferences =
            serde_json::from_str(r#"{"theme":"dark","emails":false,"size":3}"#).unwrap();
        ok.validate().unwrap();
        for bad in [
            r#"{"theme":{"nested":1}}"#,
            r#"{"the me":"x"}"#,
            r#"{"list":[1]}"#,
        ] {
            let p: Preferences = serde_json::from_str(bad).unwrap();
            assert!(p.validate().is_err(), "{bad}");
        }
        let long = Preferences(
            (0..51)
                .map(|i| (format!("k{i}"), Json::Bool(true)))
                .collect(),
        );
        assert!(long.validate().is_err());
    }
}
