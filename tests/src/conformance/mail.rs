//! `Mailer` conformance cases: what one adapter delivers, the other delivers the same way —
//! read back from where each puts it (the local outbox's files, the emulator's SES record).

use warden_core::mail::Message;

use crate::fixtures::{Fixture, unique};

fn message(to: &str) -> Message {
    Message {
        to: to.to_string(),
        subject: "Grüße — your sign-in".into(),
        text: format!("Hello\n\n{}\n", "long line ".repeat(20)),
        html: "<p>Hello &amp; welcome</p>".into(),
    }
}

/// A message arrives with its recipient, subject and both parts as they were given.
pub async fn a_message_arrives_with_both_parts(f: Fixture) {
    let to = format!("{}@example.com", unique("mail"));
    let sent = message(&to);
    f.backends.mailer.send(&sent).await.unwrap();
    assert_eq!(f.mail_to(&to).await, vec![sent]);
}

/// Messages to one recipient are listed in the order they were sent.
pub async fn messages_are_kept_in_the_order_sent(f: Fixture) {
    let to = format!("{}@example.com", unique("mail"));
    for i in 0..3 {
        let mut m = message(&to);
        m.subject = format!("message {i}");
        f.backends.mailer.send(&m).await.unwrap();
    }
    let subjects: Vec<String> = f
        .mail_to(&to)
        .await
        .into_iter()
        .map(|m| m.subject)
        .collect();
    assert_eq!(subjects, ["message 0", "message 1", "message 2"]);
}

/// A recipient that is not one plain address (a header injection) is refused, not sent.
pub async fn a_recipient_with_a_second_header_is_refused(f: Fixture) {
    let to = format!("{}@example.com", unique("mail"));
    let mut m = message(&format!("{to}\r\nBcc: attacker@example.com"));
    m.subject = "injected".into();
    assert!(f.backends.mailer.send(&m).await.is_err());
    assert!(f.mail_to(&to).await.is_empty());
    assert!(f.mail_to("attacker@example.com").await.is_empty());
}

#[macro_export]
macro_rules! mail_suite {
    ($fixture:expr) => {
        $crate::mail_suite!(@cases $fixture;
            a_message_arrives_with_both_parts,
            messages_are_kept_in_the_order_sent,
            a_recipient_with_a_second_header_is_refused,
        );
    };
    (@cases $fixture:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                $crate::conformance::mail::$case($fixture).await;
            }
        )*
    };
}
