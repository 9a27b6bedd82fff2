//! The record of processing activities (GDPR Art. 30(1)) and a notice-at-collection draft (Cal.
//! Civ. Code § 1798.100(a), CCPA regulations § 7012), written from the data map.
//!
//! Both are drafts for the operator, who is the controller: they state what Warden itself
//! holds, why, on what basis, for how long and who receives it — the parts the code knows — and
//! leave marked blanks for what only the operator can say (its name and contact, its own
//! purposes beyond the account, whether it sells or shares personal information). Because they
//! are drawn from [`DATA_MAP`], a category added there appears here without anyone editing a
//! document.

use serde::Serialize;

use super::data_map::{Category, DATA_MAP};
use crate::config::Config;

/// Art. 30(1)(g): the technical and organisational measures Warden takes itself.
pub const SECURITY_MEASURES: &[&str] = &[
    "passwords hashed with Argon2id (never stored or logged in clear), checked against known breaches",
    "per-user data keys under a KMS key (envelope encryption); erasure destroys the key (crypto-shredding)",
    "TLS to every client and AWS service; storage encrypted at rest (DynamoDB, S3 with SSE-KMS)",
    "short-lived signed access tokens, rotating refresh tokens bound to a device, sessions ended on security events",
    "rate limits and lockouts against guessing; a security monitor that detects attacks and acts",
    "a tamper-evident audit log (hash chains, digests signed by a KMS key, stored under Object Lock)",
    "least-privilege IAM roles per function; the operator API only behind IAM authorization",
    "verified, deadline-tracked data-subject requests with a verified erasure and a receipt",
];

/// The record, as `privacy ropa --format json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    /// Art. 30(1)(a): to be completed by the operator.
    pub controller: &'static str,
    pub product: String,
    pub activities: Vec<Activity>,
    /// Art. 30(1)(e).
    pub transfers: String,
    /// Art. 30(1)(g).
    pub security_measures: &'static [&'static str],
}

/// One category of the data map as a processing activity.
#[derive(Debug, Clone, Serialize)]
pub struct Activity {
    pub category: &'static str,
    pub description: &'static str,
    /// Art. 30(1)(b).
    pub purpose: &'static str,
    pub legal_basis: &'static str,
    /// Art. 30(1)(c).
    pub data_subjects: &'static str,
    pub ccpa_category: &'static str,
    /// Art. 30(1)(d).
    pub recipients: &'static str,
    /// Art. 30(1)(f).
    pub retention: &'static str,
    pub source: &'static str,
}

const CONTROLLER_BLANK: &str = "[the operator: name and contact details, and the data protection officer's where there is one]";

impl Activity {
    fn of(c: &Category) -> Self {
        Activity {
            category: c.name,
            description: c.description,
            purpose: c.purpose,
            legal_basis: c.legal_basis,
            data_subjects: c.subjects.describe(),
            ccpa_category: c.ccpa_category,
            recipients: c.recipients,
            retention: c.retention,
            source: c.source,
        }
    }
}

/// The record for this deployment (`region`: where its AWS resources are, when known).
pub fn record(config: &Config, region: Option<&str>) -> Record {
    let transfers = match region {
        Some(r) => format!(
            "The data is stored and processed in the AWS region {r}. Transfers to a third country happen only if that region, or a processor the operator adds, is outside the data subject's jurisdiction: [the operator: list them with their safeguards, Art. 46]."
        ),
        None => "The data is stored and processed in the AWS region the service is deployed in: [the operator: name it, and list any transfer to a third country with its safeguards, Art. 46].".to_string(),
    };
    Record {
        controller: CONTROLLER_BLANK,
        product: config.mail.branding.product.clone(),
        activities: DATA_MAP.iter().map(Activity::of).collect(),
        transfers,
        security_measures: SECURITY_MEASURES,
    }
}

/// `text` safe in one cell of a Markdown table.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

impl Record {
    /// The record as a Markdown document.
    pub fn to_markdown(&self) -> String {
        let mut md = format!(
            "# Record of processing activities: {}\n\nGDPR Art. 30(1), drawn from Warden's data map. Controller: {}\n\n",
            self.product, self.controller
        );
        md.push_str("| category | purpose | legal basis | data subjects | recipients | retention | source |\n");
        md.push_str("| --- | --- | --- | --- | --- | --- | --- |\n");
        for a in &self.activities {
            md.push_str(&format!(
                "| {} ({}) | {} | {} | {} | {} | {} | {} |\n",
                a.category,
                cell(a.description),
                cell(a.purpose),
                cell(a.legal_basis),
                cell(a.data_subjects),
                cell(a.recipients),
                cell(a.retention),
                cell(a.source),
            ));
        }
        md.push_str(&format!(
            "\n## Transfers\n\n{}\n\n## Security measures\n\n",
            self.transfers
        ));
        for m in self.security_measures {
            md.push_str(&format!("- {m}\n"));
        }
        md
    }

    /// A notice-at-collection draft (CCPA regulations § 7012) as Markdown: the categories
    /// collected, by CCPA category, with their purposes and retention.
    pub fn notice_at_collection(&self) -> String {
        let mut md = format!(
            "# Notice at collection: {}\n\nWe collect the following categories of personal information, for the purposes and for as long as stated.\n\n| category of personal information | what | purpose | kept |\n| --- | --- | --- | --- |\n",
            self.product
        );
        for a in self
            .activities
            .iter()
            .filter(|a| !a.ccpa_category.starts_with("none"))
        {
            md.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                cell(a.ccpa_category),
                cell(a.description),
                cell(a.purpose),
                cell(a.retention),
            ));
        }
        md.push_str(
            "\nSale and sharing: [the operator: whether personal information is sold or shared, and if so the link \"Do Not Sell or Share My Personal Information\" — Warden honours the opt-out and Global Privacy Control].\n\nYour rights (to know, delete, correct, opt out, limit, and not to be discriminated against) and how to exercise them: [the operator: the privacy policy's link].\n",
        );
        md
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config::from_vars(|k| (k == "WARDEN_PRODUCT_NAME").then(|| "Acme".to_string())).unwrap()
    }

    #[test]
    fn the_record_names_every_category_of_the_data_map_with_its_art_30_fields() {
        let r = record(&config(), Some("eu-west-1"));
        assert_eq!(r.activities.len(), DATA_MAP.len());
        let md = r.to_markdown();
        for c in DATA_MAP {
            assert!(md.contains(&format!("| {} (", c.name)), "{}", c.name);
        }
        assert!(md.contains("eu-west-1"));
        assert!(md.contains("Argon2id"));
        // A header, its rule and one row per category: a '|' in a text cannot add a column.
        let rows = md.lines().filter(|l| l.starts_with("| ")).count();
        assert_eq!(rows, DATA_MAP.len() + 2);
        assert!(
            md.lines()
                .filter(|l| l.starts_with("| "))
                .all(|l| l.matches(" | ").count() == 6)
        );
    }

    #[test]
    fn the_notice_lists_ccpa_categories_and_leaves_the_operators_choices_blank() {
        let n = record(&config(), None).notice_at_collection();
        assert!(n.contains("identifiers (§ 1798.140(v)(1)(A))"));
        assert!(!n.contains("a key, not information about a person"));
        assert!(n.contains("[the operator: whether personal information is sold or shared"));
    }
}
