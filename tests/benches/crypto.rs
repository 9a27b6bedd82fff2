//! Envelope encryption benchmark: `cargo bench -p warden-tests --bench crypto`.
//!
//! Reports encrypt and decrypt throughput for 1 KiB fields under a per-user data key, and how
//! many `Keys` calls (KMS requests in production) 10,000 field encryptions cost with the cache.

use std::sync::Arc;
use std::time::Instant;

use warden_core::crypto::user_keys::UserKeys;
use warden_core::keys::Keys;
use warden_core::secret::SecretBytes;
use warden_embedded::keyring::LocalKeyring;
use warden_tests::counting::CountingKeys;

fn main() {
    let rt = warden_tests::measure::runtime();
    rt.block_on(async {
        let (_dir, e) = warden_tests::measure::embedded_backends();
        let clock = e.backends.clock.clone();
        let table = e.backends.table.clone();
        let counting = Arc::new(CountingKeys::new(Arc::new(
            LocalKeyring::from_master(&SecretBytes::new(vec![9; 32])).unwrap(),
        )));
        let keys: Arc<dyn Keys> = counting.clone();

        // Throughput: one user's key, 1 KiB fields.
        let uk = UserKeys::new(table.clone(), keys.clone(), clock.clone());
        let (op, dk) = uk.create("bench-user").await.unwrap();
        table.transact(vec![op]).await.unwrap();
        let field = vec![0x5au8; 1024];
        let n = 20_000;
        let t = Instant::now();
        let mut sealed = Vec::new();
        for _ in 0..n {
            sealed = UserKeys::seal_with(&dk, "bench-user", "profile.bio", &field).unwrap();
        }
        let enc = n as f64 / t.elapsed().as_secs_f64();
        let t = Instant::now();
        for _ in 0..n {
            uk.open("bench-user", "profile.bio", &sealed).await.unwrap();
        }
        let dec = n as f64 / t.elapsed().as_secs_f64();
        println!(
            "1 KiB field, AES-256-GCM + HKDF key commitment ({} bytes sealed):",
            sealed.len()
        );
        println!("  encrypt: {enc:>10.0} per second");
        println!("  decrypt: {dec:>10.0} per second (including the cached key lookup)");

        // Keys calls: 10,000 field encryptions for 100 users, 100 each.
        let users: Vec<String> = (0..100).map(|i| format!("user-{i}")).collect();
        for u in &users {
            let (op, _) = uk.create(u).await.unwrap();
            table.transact(vec![op]).await.unwrap();
        }
        let c0 = counting.calls();
        let warm = UserKeys::new(table.clone(), keys.clone(), clock.clone());
        for round in 0..100 {
            for u in &users {
                warm.seal(u, "profile.bio", &field[..64 + round])
                    .await
                    .unwrap();
            }
        }
        let calls = counting.calls() - c0;
        println!("10,000 field encryptions over 100 users, fresh process: {calls} Keys calls");
        let c0 = counting.calls();
        for round in 0..100 {
            for u in &users {
                warm.seal(u, "profile.bio", &field[..64 + round])
                    .await
                    .unwrap();
            }
        }
        let calls = counting.calls() - c0;
        println!("the next 10,000 in the same warm process:               {calls} Keys calls");
    });
}
