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
