//! `sluice offsets`: list, reset, set and import a connector's stored offsets.

use std::path::PathBuf;

use clap::Subcommand;

use super::load_worker;

#[derive(Subcommand)]
pub(super) enum OffsetsAction {
    /// One line per object: key, record count, finished or partial, Kafka Connect offset key.
    List {
        /// Worker file (says where offsets are stored).
        worker: PathBuf,
        /// Connector name.
        #[arg(long)]
        connector: String,
        /// Only objects whose key starts with this.
        #[arg(long)]
        prefix: Option<String>,
    },
    /// Forget the offsets of every object (or of those under --prefix): they are read again.
    Reset {
        /// Worker file.
        worker: PathBuf,
        /// Connector name.
        #[arg(long)]
        connector: String,
        /// Only objects whose key starts with this.
        #[arg(long)]
        prefix: Option<String>,
    },
    /// Set one object's record count: the next run resumes it at that record.
    Set {
        /// Worker file.
        worker: PathBuf,
        /// Connector name.
        #[arg(long)]
        connector: String,
        /// Object key.
        #[arg(long)]
        object: String,
        /// Records already delivered.
        #[arg(long)]
        record_count: i64,
        /// Bucket, when the object has no stored offset yet.
        #[arg(long)]
        bucket: Option<String>,
    },
    /// Import the offsets a Kafka Connect worker stored for an Aiven S3 or Azure source
    /// connector (in its offsets topic): the connector resumes where Aiven's stopped.
    Import {
        /// Worker file: where the imported offsets are written, and the Kafka cluster (with its
        /// security settings) that holds Kafka Connect's offsets topic.
        worker: PathBuf,
        /// The Sluice connector's name.
        #[arg(long)]
        connector: String,
        /// Kafka Connect's offsets topic (its worker's offset.storage.topic).
        #[arg(long, value_name = "TOPIC")]
        from_topic: String,
        /// The Aiven connector's name in that topic (default: --connector).
        #[arg(long, value_name = "NAME")]
        from_connector: Option<String>,
        /// Replace offsets the Sluice connector already has for the same objects.
        #[arg(long)]
        overwrite: bool,
        /// Say what would be imported, write nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

pub(super) async fn offsets(action: OffsetsAction) -> anyhow::Result<bool> {
    use crate::offsets_cli;
    match action {
        OffsetsAction::List {
            worker,
            connector,
            prefix,
        } => {
            print!(
                "{}",
                offsets_cli::list(&load_worker(&worker)?, &connector, prefix.as_deref()).await?
            );
        }
        OffsetsAction::Reset {
            worker,
            connector,
            prefix,
        } => {
            let n =
                offsets_cli::reset(&load_worker(&worker)?, &connector, prefix.as_deref()).await?;
            println!("reset the offsets of {n} objects of connector {connector:?}");
        }
        OffsetsAction::Set {
            worker,
            connector,
            object,
            record_count,
            bucket,
        } => {
            offsets_cli::set(
                &load_worker(&worker)?,
                &connector,
                &object,
                record_count,
                bucket.as_deref(),
            )
            .await?;
            println!(
                "object {object:?} of connector {connector:?} resumes at record {record_count}"
            );
        }
        OffsetsAction::Import {
            worker,
            connector,
            from_topic,
            from_connector,
            overwrite,
            dry_run,
        } => {
            let from = from_connector.as_deref().unwrap_or(&connector);
            let done = crate::offsets_import::import(
                &load_worker(&worker)?,
                &crate::offsets_import::Import {
                    connector: &connector,
                    topic: &from_topic,
                    from_connector: from,
                    overwrite,
                    dry_run,
                },
            )
            .await?;
            println!(
                "{} {} offsets of connector {from:?} from topic {from_topic:?} as connector {connector:?} into {}{}; each object resumes at its recordCount (objects Aiven finished are opened once more, deliver nothing and are then marked finished)",
                if dry_run { "would import" } else { "imported" },
                done.written,
                done.location,
                if done.kept > 0 {
                    format!(
                        "; {} objects already had Sluice offsets and were kept (--overwrite replaces them)",
                        done.kept
                    )
                } else {
                    String::new()
                }
            );
        }
    }
    Ok(true)
}
