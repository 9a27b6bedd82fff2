//! What the `warden-local` binary tests share: a free loopback port, and the runner stopped
//! when a test ends, however it ends.

// Each test binary includes this module and uses only part of it.
#![allow(dead_code)]

use std::net::TcpListener;
use std::process::Child;

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Kills the runner when dropped.
pub struct Stop(pub Child);

impl Drop for Stop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
