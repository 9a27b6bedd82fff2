//! `Services`: what a handler needs, built once per cold start and shared by every request.

use std::sync::Arc;

use crate::Result;
use crate::backends::Backends;
use crate::config::Config;
use crate::password::PasswordHasher;

pub struct Services {
    pub config: Config,
    pub backends: Backends,
    pub passwords: PasswordHasher,
}

/// The axum state of every function's router.
pub type AppState = Arc<Services>;

impl Services {
    pub fn new(config: Config, backends: Backends) -> Result<AppState> {
        let passwords = PasswordHasher::new(config.argon2)?;
        Ok(Arc::new(Services {
            config,
            backends,
            passwords,
        }))
    }
}
