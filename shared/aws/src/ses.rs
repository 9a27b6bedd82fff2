//! The SES [`Mailer`]: each message goes out through SES v2 `SendEmail` as a raw RFC 5322
//! document (the one form [`warden_core::mail::mime`] writes, so what SES sends is what the
//! local outbox stores), from `WARDEN_SES_SENDER`, in the configuration set
//! `WARDEN_SES_CONFIGURATION_SET` (the template's set suppresses addresses that bounced or
//! complained). SES's send-rate throttling is retried by the SDK's standard retry strategy
//! (bounded attempts with backoff); what still fails stays in the outbox for the schedule.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_sesv2::error::ProvideErrorMetadata;
use aws_sdk_sesv2::primitives::Blob;
use aws_sdk_sesv2::types::{Destination, EmailContent, RawMessage};
use warden_core::clock::Clock;
use warden_core::mail::{Mailer, Message, mime};
use warden_core::{Error, Result};

pub struct SesMailer {
    client: aws_sdk_sesv2::Client,
    sender: String,
    configuration_set: Option<String>,
    clock: Arc<dyn Clock>,
}

impl SesMailer {
    pub fn new(
        client: aws_sdk_sesv2::Client,
        sender: String,
        configuration_set: Option<String>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        SesMailer {
            client,
            sender,
            configuration_set,
            clock,
        }
    }
}

#[async_trait]
impl Mailer for SesMailer {
    async fn send(&self, message: &Message) -> Result<()> {
        let id = warden_core::crypto::hex(&warden_core::crypto::random_bytes::<8>()?);
        let raw = mime::render(message, &self.sender, self.clock.now(), &id)?;
        let raw = RawMessage::builder()
            .data(Blob::new(raw.into_bytes()))
            .build()
            .map_err(|e| Error::internal("an SES raw message", e))?;
        self.client
            .send_email()
            .from_email_address(&self.sender)
            .destination(Destination::builder().to_addresses(&message.to).build())
            .content(EmailContent::builder().raw(raw).build())
            .set_configuration_set_name(self.configuration_set.clone())
            .send()
            .await
            .map_err(|e| {
                tracing::warn!(
                    code = e.code().unwrap_or("transport"),
                    "ses SendEmail failed"
                );
                Error::unavailable("ses", e)
            })?;
        Ok(())
    }
}
