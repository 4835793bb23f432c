//! Brokers (tansu as a separate process, librdkafka's mock cluster in this process), a consumer
//! that counts what landed, and the raw produce limit: a minimal rdkafka producer.

use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::io::{Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{DeliveryResult, Header, Headers, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer, ProducerContext};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};

pub(crate) use sluice_testkit::{find_tansu, free_port, wait_port, Broker, BrokerKind, PARTITIONS};

/// One consumed record kept as a payload sample for the raw producer.
#[derive(Debug, Clone)]
pub(crate) struct Sample {
    /// Value bytes.
    pub value: Vec<u8>,
    /// Headers (name, value).
    pub headers: Vec<(String, Vec<u8>)>,
    /// Timestamp, ms.
    pub timestamp: Option<i64>,
}

/// What a consumer read back.
#[derive(Debug, Clone, Default)]
pub(crate) struct Consumed {
    /// Records read.
    pub count: u64,
    /// Distinct (object key, record index) header pairs among them (duplicates = count - this).
    pub distinct: u64,
    /// When the first record arrived.
    pub first_at: Option<Instant>,
    /// The first records, as payload samples (up to the byte budget).
    pub samples: Vec<Sample>,
}

/// How to consume.
pub(crate) struct ConsumeOpts {
    /// Records expected.
    pub expected: u64,
    /// Stop once `expected` arrived and nothing new came for this long (catches duplicates).
    pub settle: Duration,
    /// Give up when nothing came for this long after `producer_done` is set (or from the
    /// start, when it is None).
    pub idle: Duration,
    /// Set when the producing process ended (concurrent consumption).
    pub producer_done: Option<Arc<AtomicBool>>,
    /// Keep samples up to this many value bytes.
    pub sample_bytes: usize,
}

fn record_identity(m: &impl Message) -> Option<u64> {
    let h = m.headers()?;
    let mut key = None;
    let mut index = None;
    for x in h.iter() {
        match x.key {
            "sluice.object.key" => key = x.value,
            "sluice.record.index" => index = x.value,
            _ => {}
        }
    }
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    key?.hash(&mut hasher);
    index?.hash(&mut hasher);
    Some(hasher.finish())
}

/// Reads `topic` from the beginning of every partition and counts. Watermarks are not used
/// (tansu's are wrong): the count is what arrived.
pub(crate) fn consume(bootstrap: &str, topic: &str, opts: ConsumeOpts) -> anyhow::Result<Consumed> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("sluice-bench-{}", free_port()))
        .set("enable.auto.commit", "false")
        .set("session.timeout.ms", "6000")
        .set("fetch.wait.max.ms", "10")
        .set("fetch.min.bytes", "1")
        .set("queued.max.messages.kbytes", "262144")
        .create()?;
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition_offset(topic, p, Offset::Beginning)?;
    }
    consumer.assign(&tpl)?;
    let mut out = Consumed::default();
    let mut seen: HashSet<u64> = HashSet::new();
    let mut sample_budget = opts.sample_bytes;
    let mut last = Instant::now();
    loop {
        let quiet = last.elapsed();
        if out.count >= opts.expected && quiet > opts.settle {
            break;
        }
        let done = opts
            .producer_done
            .as_ref()
            .is_none_or(|d| d.load(Ordering::Relaxed));
        if done && quiet > opts.idle {
            break;
        }
        match consumer.poll(Duration::from_millis(50)) {
            Some(Ok(m)) => {
                let now = Instant::now();
                out.first_at.get_or_insert(now);
                last = now;
                out.count += 1;
                if let Some(id) = record_identity(&m) {
                    seen.insert(id);
                }
                if sample_budget > 0 {
                    let value = m.payload().unwrap_or_default().to_vec();
                    sample_budget = sample_budget.saturating_sub(value.len().max(1));
                    let headers = m
                        .headers()
                        .map(|h| {
                            h.iter()
                                .map(|x| (x.key.to_owned(), x.value.unwrap_or_default().to_vec()))
                                .collect()
                        })
                        .unwrap_or_default();
                    out.samples.push(Sample {
                        value,
                        headers,
                        timestamp: m.timestamp().to_millis(),
                    });
                }
            }
            Some(Err(e)) => bail!("consuming {topic}: {e}"),
            None => {}
        }
    }
    out.distinct = seen.len() as u64;
    Ok(out)
}

/// Writes payload samples: per sample, value length + value, timestamp, header count, headers.
pub(crate) fn write_samples(path: &Path, samples: &[Sample]) -> anyhow::Result<()> {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    f.write_all(&(samples.len() as u32).to_le_bytes())?;
    for s in samples {
        f.write_all(&(s.value.len() as u32).to_le_bytes())?;
        f.write_all(&s.value)?;
        f.write_all(&s.timestamp.unwrap_or(-1).to_le_bytes())?;
        f.write_all(&(s.headers.len() as u32).to_le_bytes())?;
        for (k, v) in &s.headers {
            f.write_all(&(k.len() as u32).to_le_bytes())?;
            f.write_all(k.as_bytes())?;
            f.write_all(&(v.len() as u32).to_le_bytes())?;
            f.write_all(v)?;
        }
    }
    f.flush()?;
    Ok(())
}

/// Reads what [`write_samples`] wrote.
pub(crate) fn read_samples(path: &Path) -> anyhow::Result<Vec<Sample>> {
    let mut data = Vec::new();
    std::fs::File::open(path)?.read_to_end(&mut data)?;
    let mut pos = 0usize;
    let mut take = |n: usize| -> anyhow::Result<&[u8]> {
        let s = data.get(pos..pos + n).context("truncated samples file")?;
        pos += n;
        Ok(s)
    };
    fn u32_of(b: &[u8]) -> usize {
        u32::from_le_bytes(b.try_into().unwrap()) as usize
    }
    let n = u32_of(take(4)?);
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let len = u32_of(take(4)?);
        let value = take(len)?.to_vec();
        let ts = i64::from_le_bytes(take(8)?.try_into().unwrap());
        let nh = u32_of(take(4)?);
        let mut headers = Vec::with_capacity(nh);
        for _ in 0..nh {
            let kl = u32_of(take(4)?);
            let k = String::from_utf8_lossy(take(kl)?).into_owned();
            let vl = u32_of(take(4)?);
            headers.push((k, take(vl)?.to_vec()));
        }
        out.push(Sample {
            value,
            headers,
            timestamp: (ts >= 0).then_some(ts),
        });
    }
    Ok(out)
}

struct Counting {
    delivered: AtomicU64,
    failed: AtomicU64,
    first_error: std::sync::Mutex<Option<String>>,
}

impl ClientContext for Counting {}

impl ProducerContext for Counting {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => {
                self.delivered.fetch_add(1, Ordering::Relaxed);
            }
            Err((e, _)) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                self.first_error
                    .lock()
                    .unwrap()
                    .get_or_insert_with(|| e.to_string());
            }
        }
    }
}

/// The raw produce limit: produces, for every object of `manifest` (`key<TAB>records` lines),
/// its number of records, cycling through the payload `samples` Sluice produced (same values,
/// same headers, same key = the object key), with the producer settings Sluice uses (its
/// defaults plus the worker file's `producer.*`). No reading, no parsing. Prints
/// `delivered N failed M`.
pub(crate) fn raw_produce(
    worker_file: &Path,
    manifest: &Path,
    samples: &Path,
    topic: &str,
) -> anyhow::Result<()> {
    let settings = sluice_core::config::load_file(worker_file)?;
    let worker = sluice_core::config::WorkerConfig::from_settings(&settings)?;
    let cfg = sluice_core::kafka::producer_config(
        &worker.bootstrap_servers,
        &worker.producer,
        &Default::default(),
    );
    let samples = read_samples(samples)?;
    if samples.is_empty() {
        bail!("no payload samples");
    }
    let objects: Vec<(String, u64)> = std::fs::read_to_string(manifest)?
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let mut f = l.split('\t');
            let key = f.next().unwrap_or_default().to_owned();
            let n = f.next().and_then(|n| n.parse().ok()).unwrap_or(0);
            (key, n)
        })
        .collect();
    let producer: BaseProducer<Counting> = cfg.create_with_context(Counting {
        delivered: AtomicU64::new(0),
        failed: AtomicU64::new(0),
        first_error: Default::default(),
    })?;
    let mut j = 0usize;
    let mut sent = 0u64;
    for (key, n) in &objects {
        for index in 0..*n {
            let s = &samples[j % samples.len()];
            j += 1;
            let index_text = index.to_string();
            let mut headers = OwnedHeaders::new_with_capacity(s.headers.len());
            for (k, v) in &s.headers {
                let value: &[u8] = match k.as_str() {
                    "sluice.object.key" => key.as_bytes(),
                    "sluice.record.index" => index_text.as_bytes(),
                    _ => v,
                };
                headers = headers.insert(Header {
                    key: k,
                    value: Some(value),
                });
            }
            let mut record = BaseRecord::to(topic)
                .key(key.as_bytes())
                .payload(&s.value[..])
                .headers(headers);
            if let Some(ts) = s.timestamp {
                record = record.timestamp(ts);
            }
            loop {
                match producer.send(record) {
                    Ok(()) => break,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                        record = r;
                        producer.poll(Duration::from_millis(5));
                    }
                    Err((e, _)) => bail!("produce: {e}"),
                }
            }
            sent += 1;
            if sent % 1024 == 0 {
                producer.poll(Duration::ZERO);
            }
        }
    }
    producer.flush(Duration::from_secs(300))?;
    let ctx = producer.context();
    let delivered = ctx.delivered.load(Ordering::Relaxed);
    let failed = ctx.failed.load(Ordering::Relaxed);
    println!("delivered {delivered} failed {failed}");
    if let Some(e) = ctx.first_error.lock().unwrap().as_ref() {
        eprintln!("error: first delivery error: {e}");
    }
    if failed > 0 || delivered != sent {
        bail!("{failed} deliveries failed, {delivered} of {sent} delivered");
    }
    Ok(())
}
