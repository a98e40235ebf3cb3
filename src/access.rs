//! Who is asking. A [`Caller`] is made only by authentication (`service::auth`; the layering test
//! checks that nothing else calls [`Caller::authenticated`]) and its fields are private. Staff
//! rights are the [`Staff`] and [`Admin`] handles, which can only be obtained from a caller with
//! that role. A [`Viewer`] is how someone sees other users (with or without staff rights).

use uuid::Uuid;

use crate::error::{AppError, AppResult};
use crate::model::Role;

/// The verified caller of a request or socket.
#[derive(Clone, Copy, Debug)]
pub struct Caller {
    id: Uuid,
    session_id: Uuid,
    role: Role,
}

impl Caller {
    /// A caller whose access token and session were verified. Only `service::auth` calls this.
    pub(crate) fn authenticated(id: Uuid, session_id: Uuid, role: Role) -> Self {
        Self { id, session_id, role }
    }

    /// User id.
    pub fn id(&self) -> Uuid {
        self.id
    }

    /// The session the access token belongs to.
    pub fn session_id(&self) -> Uuid {
        self.session_id
    }

    /// Current role (read from storage at authentication, not from the token).
    pub fn role(&self) -> Role {
        self.role
    }

    /// Staff rights, if the caller is a moderator or admin.
    pub fn staff(&self) -> Option<Staff> {
        self.role.is_staff().then_some(Staff(*self))
    }

    /// Staff rights, or 403.
    pub fn require_staff(&self) -> AppResult<Staff> {
        self.staff().ok_or_else(|| AppError::Forbidden("only staff may do this".into()))
    }

    /// How the caller sees others, staff rights included.
    pub fn viewer(&self) -> Viewer {
        Viewer { id: self.id, staff: self.role.is_staff() }
    }

    /// How the caller sees others as any student would (when acting as a person: befriending,
    /// starting a conversation).
    pub fn as_student(&self) -> Viewer {
        Viewer::student(self.id)
    }
}

/// A caller with the moderator or admin role.
#[derive(Clone, Copy, Debug)]
pub struct Staff(Caller);

impl Staff {
    /// The caller behind the handle.
    pub fn caller(&self) -> Caller {
        self.0
    }

    /// Admin rights, or 403.
    pub fn admin(&self) -> AppResult<Admin> {
        if self.0.role == Role::Admin { Ok(Admin(self.0)) } else { Err(AppError::Forbidden("only an admin may do this".into())) }
    }
}

/// A caller with the admin role.
#[derive(Clone, Copy, Debug)]
pub struct Admin(Caller);

impl Admin {
    /// The caller behind the handle.
    pub fn caller(&self) -> Caller {
        self.0
    }

    /// An admin is staff.
    pub fn staff(&self) -> Staff {
        Staff(self.0)
    }
}

/// Who is looking at other users' data: decides visibility of profiles, notes and presence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Viewer {
    id: Uuid,
    staff: bool,
}

impl Viewer {
    /// A user without staff rights (also the server rendering something for that user).
    pub fn student(id: Uuid) -> Self {
        Self { id, staff: false }
    }

    /// The viewer's user id.
    pub fn id(&self) -> Uuid {
        self.id
    }

    /// True when the viewer sees with staff rights.
    pub fn is_staff(&self) -> bool {
        self.staff
    }
}

impl From<Caller> for Viewer {
    fn from(c: Caller) -> Self {
        c.viewer()
    }
}
