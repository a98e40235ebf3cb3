//! Small shared vocabulary used by the store, the services and the HTTP layer.

use serde::{Deserialize, Serialize};

/// What a user may do.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, PartialOrd, Ord, salvo::oapi::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A student: the default.
    Student,
    /// May moderate content.
    Moderator,
    /// Runs the server.
    Admin,
}

impl Role {
    /// Moderators and admins are staff.
    pub fn is_staff(self) -> bool {
        self >= Role::Moderator
    }
}

/// Who sees a profile's details.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq, salvo::oapi::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProfileVisibility {
    /// Every signed-in user.
    #[default]
    Everyone,
    /// Friends only; others see the username and name.
    Friends,
}

/// Colour theme of the apps.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq, salvo::oapi::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Theme {
    /// Light.
    Light,
    /// Dark.
    Dark,
    /// Follow the device.
    #[default]
    System,
}

/// Quiet hours: no push and no reminders from `start` to `end` (`HH:MM`, the user's local time;
/// an `end` before `start` spans midnight, e.g. 21:30 to 07:00).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq, salvo::oapi::ToSchema)]
pub struct QuietHours {
    /// First quiet minute, `HH:MM`.
    #[salvo(schema(pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$"))]
    pub start: String,
    /// First minute that is no longer quiet, `HH:MM`.
    #[salvo(schema(pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$"))]
    pub end: String,
}

impl QuietHours {
    /// `HH:MM-HH:MM`, as in the configuration.
    pub fn parse_range(s: &str) -> Option<QuietHours> {
        let (start, end) = s.split_once('-')?;
        let q = QuietHours { start: start.trim().to_string(), end: end.trim().to_string() };
        q.is_valid().then_some(q)
    }

    fn minute(t: &str) -> Option<u32> {
        let (h, m) = t.split_once(':')?;
        let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
        (t.len() == 5 && h < 24 && m < 60).then_some(h * 60 + m)
    }

    /// Both times are `HH:MM`.
    pub fn is_valid(&self) -> bool {
        Self::minute(&self.start).is_some() && Self::minute(&self.end).is_some()
    }

    /// True when `hour:minute` (local) is quiet.
    pub fn contains(&self, hour: u32, minute: u32) -> bool {
        let (Some(s), Some(e)) = (Self::minute(&self.start), Self::minute(&self.end)) else { return false };
        let t = hour * 60 + minute;
        if s <= e { s <= t && t < e } else { t >= s || t < e }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_hours_span_midnight() {
        let q = QuietHours::parse_range("21:30-07:00").unwrap();
        assert!(q.contains(23, 0) && q.contains(6, 59) && q.contains(21, 30));
        assert!(!q.contains(7, 0) && !q.contains(12, 0) && !q.contains(21, 29));
        let day = QuietHours::parse_range("12:00-13:00").unwrap();
        assert!(day.contains(12, 30) && !day.contains(13, 0));
        for bad in ["", "7:00-8:00", "25:00-01:00", "12:00", "aa:bb-cc:dd"] {
            assert!(QuietHours::parse_range(bad).is_none(), "{bad}");
        }
    }
}
