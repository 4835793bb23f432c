//! Decompression of an object's byte stream (`file.compression.type`).
//!
//! Every codec is decoded by its well-known crate's streaming reader (`flate2`, `zstd`, `snap`,
//! `bzip2`, `lz4_flex`) on a blocking thread that reads the object's async stream through
//! [`SyncIoBridge`] and hands decompressed chunks back through a bounded channel. Memory stays
//! bounded by the codec's window plus a few chunks, whatever the object's size.

use std::io::{self, BufReader, Read};

use bytes::{Bytes, BytesMut};
use futures::stream::{self, StreamExt};
use object_store::{Attribute, GetOptions};
use sluice_core::object::{ByteStream, ObjectInput};
use tokio_util::io::{StreamReader, SyncIoBridge};

use crate::Error;

/// Size of the decompressed chunks handed to the format.
const CHUNK: usize = 64 * 1024;

/// Decompressed chunks buffered between the decoding thread and the format.
const CHANNEL_CHUNKS: usize = 2;

/// How an object's bytes are compressed (`file.compression.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Compression {
    /// Not compressed.
    #[default]
    None,
    /// Chosen per object: from the key's extension, else from its `Content-Encoding`, else from
    /// the first bytes' magic number, else not compressed.
    Auto,
    /// gzip (RFC 1952), several members read one after the other.
    Gzip,
    /// Zstandard frames.
    Zstd,
    /// Snappy's framing format (`.sz`, what `python-snappy`'s stream compressor and Hadoop's
    /// `SnappyFramed` write), checksums verified.
    Snappy,
    /// bzip2, several streams read one after the other.
    Bzip2,
    /// LZ4 frame format.
    Lz4,
    /// DEFLATE: a zlib stream (RFC 1950, what HTTP's `deflate` means) or raw DEFLATE (RFC 1951),
    /// told apart by the zlib header.
    Deflate,
}

impl Compression {
    /// The values of `file.compression.type`, in documentation order.
    pub const NAMES: &'static [&'static str] = &[
        "none", "auto", "gzip", "zstd", "snappy", "bzip2", "lz4", "deflate",
    ];

    /// The codec called `name` (one of [`Compression::NAMES`], case-insensitive).
    ///
    /// # Errors
    /// [`Error::Config`] for an unknown name.
    pub fn parse(name: &str) -> Result<Self, Error> {
        Ok(match name.trim().to_ascii_lowercase().as_str() {
            "none" => Compression::None,
            "auto" => Compression::Auto,
            "gzip" => Compression::Gzip,
            "zstd" => Compression::Zstd,
            "snappy" => Compression::Snappy,
            "bzip2" => Compression::Bzip2,
            "lz4" => Compression::Lz4,
            "deflate" => Compression::Deflate,
            _ => {
                return Err(Error::Config {
                    key: "file.compression.type",
                    message: format!(
                        "unknown compression {name:?}; expected one of {}",
                        Self::NAMES.join(", ")
                    ),
                })
            }
        })
    }

    /// The name as written in `file.compression.type`.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Auto => "auto",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::Snappy => "snappy",
            Compression::Bzip2 => "bzip2",
            Compression::Lz4 => "lz4",
            Compression::Deflate => "deflate",
        }
    }

    /// The codec the extension of `key` names (`.gz`, `.gzip`, `.zst`, `.zstd`, `.sz`,
    /// `.snappy`, `.bz2`, `.lz4`, `.deflate`, `.zz`, `.zlib`), if any.
    pub fn from_extension(key: &str) -> Option<Self> {
        let name = key.rsplit('/').next().unwrap_or(key);
        let (_, ext) = name.rsplit_once('.')?;
        Some(match ext.to_ascii_lowercase().as_str() {
            "gz" | "gzip" => Compression::Gzip,
            "zst" | "zstd" => Compression::Zstd,
            "sz" | "snappy" => Compression::Snappy,
            "bz2" | "bzip2" => Compression::Bzip2,
            "lz4" => Compression::Lz4,
            "deflate" | "zz" | "zlib" => Compression::Deflate,
            _ => return None,
        })
    }

    /// The codec whose magic number `prefix` starts with (gzip, zstd, snappy framed, bzip2, lz4
    /// frame), if any. DEFLATE has no magic number and is never detected this way.
    pub fn from_magic(prefix: &[u8]) -> Option<Self> {
        const SNAPPY: &[u8] = b"\xff\x06\x00\x00sNaPpY";
        if prefix.starts_with(&[0x1f, 0x8b]) {
            Some(Compression::Gzip)
        } else if prefix.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Some(Compression::Zstd)
        } else if prefix.starts_with(SNAPPY) {
            Some(Compression::Snappy)
        } else if prefix.len() >= 4
            && prefix.starts_with(b"BZh")
            && (b'1'..=b'9').contains(&prefix[3])
        {
            Some(Compression::Bzip2)
        } else if prefix.starts_with(&[0x04, 0x22, 0x4d, 0x18]) {
            Some(Compression::Lz4)
        } else {
            None
        }
    }
}

/// `auto` for an object whose key has no telling extension: the codec its `Content-Encoding`
/// names (`gzip`, `x-gzip`, `zstd`, `deflate`, `bzip2`, `x-bzip2`, `snappy`, `lz4`), asked with
/// a HEAD request; otherwise still `Auto`, so the magic number decides. A failed HEAD request is
/// not an error here (the GET that follows reports the store's problem).
pub(crate) async fn from_content_encoding(input: &ObjectInput) -> Compression {
    let options = GetOptions {
        head: true,
        ..Default::default()
    };
    let Ok(result) = input
        .store()
        .get_opts(&input.meta().location, options)
        .await
    else {
        return Compression::Auto;
    };
    let encoding = result
        .attributes
        .get(&Attribute::ContentEncoding)
        .map(|v| v.as_ref().trim().to_ascii_lowercase());
    match encoding.as_deref() {
        Some("gzip" | "x-gzip") => Compression::Gzip,
        Some("zstd") => Compression::Zstd,
        Some("deflate") => Compression::Deflate,
        Some("bzip2" | "x-bzip2") => Compression::Bzip2,
        Some("snappy" | "x-snappy-framed") => Compression::Snappy,
        Some("lz4") => Compression::Lz4,
        _ => Compression::Auto,
    }
}

/// Bytes needed to recognise every magic number of [`Compression::from_magic`].
const MAGIC_LEN: usize = 10;

/// The decompressed bytes of the object `key` whose stored bytes are `stream`.
pub(crate) async fn decompress(key: &str, codec: Compression, stream: ByteStream) -> ByteStream {
    let (codec, stream) = match codec {
        Compression::Auto => match Compression::from_extension(key) {
            Some(c) => (c, stream),
            None => sniff(stream).await,
        },
        other => (other, stream),
    };
    match codec {
        Compression::None | Compression::Auto => stream,
        codec => decode_blocking(codec, stream),
    }
}

/// Reads the first bytes of `stream` to recognise a magic number; the stream is given back whole.
async fn sniff(mut stream: ByteStream) -> (Compression, ByteStream) {
    let mut head: Vec<io::Result<Bytes>> = Vec::new();
    let mut prefix = Vec::with_capacity(MAGIC_LEN);
    let mut ended = false;
    while prefix.len() < MAGIC_LEN {
        match stream.next().await {
            Some(Ok(chunk)) => {
                let n = chunk.len().min(MAGIC_LEN - prefix.len());
                prefix.extend_from_slice(&chunk[..n]);
                head.push(Ok(chunk));
            }
            Some(Err(e)) => {
                head.push(Err(e));
                break;
            }
            None => {
                ended = true;
                break;
            }
        }
    }
    let codec = Compression::from_magic(&prefix).unwrap_or(Compression::None);
    // A stream that has ended must not be polled again (an object shorter than a magic number
    // would otherwise be polled past its end by the decoder: a panic, found by fuzzing).
    let rest = if ended {
        stream::empty().boxed()
    } else {
        stream
    };
    (codec, stream::iter(head).chain(rest).boxed())
}

/// Decodes `stream` with `codec` on a blocking thread; see the module documentation.
fn decode_blocking(codec: Compression, stream: ByteStream) -> ByteStream {
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        let e = io::Error::other(format!(
            "{} decompression needs a tokio runtime",
            codec.name()
        ));
        return stream::once(async move { Err(e) }).boxed();
    };
    let reader = SyncIoBridge::new_with_handle(StreamReader::new(stream), handle.clone());
    let (tx, mut rx) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(CHANNEL_CHUNKS);
    handle.spawn_blocking(move || {
        // A decoder that panics on corrupt input must end the stream with an error: unwinding
        // would only drop the sender, which reads as a clean end of the object.
        let decoding = std::panic::AssertUnwindSafe(|| decode_into(codec, reader, &tx));
        if let Err(panic) = std::panic::catch_unwind(decoding) {
            let what = crate::panic_message(panic.as_ref());
            let e = io::Error::other(format!("the decoder failed on corrupt data ({what})"));
            let _ = tx.blocking_send(Err(context(codec, e)));
        }
    });
    stream::poll_fn(move |cx| rx.poll_recv(cx)).boxed()
}

/// Decodes `reader` with `codec` into `tx`, chunk by chunk, ending with the error that stopped
/// it, if any.
fn decode_into<R: Read + Send + 'static>(
    codec: Compression,
    reader: R,
    tx: &tokio::sync::mpsc::Sender<io::Result<Bytes>>,
) {
    let mut decoder = match decoder(codec, reader) {
        Ok(d) => d,
        Err(e) => {
            let _ = tx.blocking_send(Err(context(codec, e)));
            return;
        }
    };
    loop {
        let mut buf = BytesMut::zeroed(CHUNK);
        let (n, error) = read_full(&mut decoder, &mut buf);
        if n > 0 {
            buf.truncate(n);
            if tx.blocking_send(Ok(buf.freeze())).is_err() {
                // The reader went away: stop decoding.
                return;
            }
        }
        if let Some(e) = error {
            let _ = tx.blocking_send(Err(context(codec, e)));
            return;
        }
        if n == 0 {
            return;
        }
    }
}

/// Reads until `buf` is full or the decoder ends (decoders often return short reads): the bytes
/// read, and the error that stopped the reading, if any.
fn read_full(decoder: &mut dyn Read, buf: &mut [u8]) -> (usize, Option<io::Error>) {
    let mut filled = 0;
    while filled < buf.len() {
        match decoder.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return (filled, Some(e)),
        }
    }
    (filled, None)
}

fn decoder<R: Read + Send + 'static>(codec: Compression, reader: R) -> io::Result<Box<dyn Read>> {
    Ok(match codec {
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(reader)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(reader)?),
        Compression::Snappy => Box::new(snap::read::FrameDecoder::new(reader)),
        Compression::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(reader)),
        Compression::Lz4 => Box::new(lz4_flex::frame::FrameDecoder::new(reader)),
        Compression::Deflate => {
            // Look at the first two bytes (whatever the chunking) to tell zlib from raw DEFLATE.
            let mut reader = reader;
            let mut head = [0u8; 2];
            let mut n = 0;
            while n < 2 {
                match reader.read(&mut head[n..]) {
                    Ok(0) => break,
                    Ok(k) => n += k,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            let zlib = is_zlib_header(&head[..n]);
            let reader =
                BufReader::with_capacity(CHUNK, io::Cursor::new(head[..n].to_vec()).chain(reader));
            if zlib {
                Box::new(flate2::bufread::ZlibDecoder::new(reader))
            } else {
                Box::new(flate2::bufread::DeflateDecoder::new(reader))
            }
        }
        Compression::None | Compression::Auto => Box::new(reader),
    })
}

/// True when `head` starts with a zlib header (RFC 1950: deflate method, window ≤ 32 KiB, header
/// checksum).
fn is_zlib_header(head: &[u8]) -> bool {
    match head {
        [cmf, flg, ..] => {
            cmf & 0x0f == 8 && cmf >> 4 <= 7 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0
        }
        _ => false,
    }
}

/// A decoder's error, saying which codec failed. An error of the object's own stream (the network)
/// passes through the decoders unchanged and is kept as is.
fn context(codec: Compression, e: io::Error) -> io::Error {
    let kind = match e.kind() {
        io::ErrorKind::Other => io::ErrorKind::InvalidData,
        k => k,
    };
    let message = match e.kind() {
        io::ErrorKind::UnexpectedEof => format!(
            "{} data is truncated (the compressed stream ends early): {e}",
            codec.name()
        ),
        _ => format!("{} decompression failed: {e}", codec.name()),
    };
    io::Error::new(kind, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::chunked;
    use std::io::Write;

    fn compress(codec: Compression, data: &[u8]) -> Vec<u8> {
        match codec {
            Compression::Gzip => {
                let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            Compression::Zstd => zstd::stream::encode_all(data, 1).unwrap(),
            Compression::Snappy => {
                let mut e = snap::write::FrameEncoder::new(Vec::new());
                e.write_all(data).unwrap();
                e.into_inner().unwrap()
            }
            Compression::Bzip2 => {
                let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            Compression::Lz4 => {
                let mut e = lz4_flex::frame::FrameEncoder::new(Vec::new());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            Compression::Deflate => {
                let mut e =
                    flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            Compression::None | Compression::Auto => data.to_vec(),
        }
    }

    async fn read_all(stream: ByteStream) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut stream = stream;
        while let Some(chunk) = stream.next().await {
            out.extend_from_slice(&chunk?);
        }
        Ok(out)
    }

    const CODECS: &[Compression] = &[
        Compression::Gzip,
        Compression::Zstd,
        Compression::Snappy,
        Compression::Bzip2,
        Compression::Lz4,
        Compression::Deflate,
    ];

    fn sample() -> Vec<u8> {
        (0..200_000u32)
            .flat_map(|i| format!("{{\"i\":{i}}}\n").into_bytes())
            .collect()
    }

    #[tokio::test]
    async fn every_codec_round_trips_in_any_chunking() {
        let data = sample();
        for &codec in CODECS {
            let packed = compress(codec, &data);
            for cuts in [
                vec![],
                vec![1, 2, 3, 100, 5000],
                (1..packed.len()).step_by(977).collect(),
            ] {
                let out = read_all(decompress("k", codec, chunked(&packed, &cuts)).await)
                    .await
                    .unwrap();
                assert!(out == data, "{codec:?} {cuts:?}");
            }
        }
    }

    #[tokio::test]
    async fn auto_uses_the_extension_then_the_magic_number() {
        let data = sample();
        for &codec in CODECS {
            let packed = compress(codec, &data);
            let key = format!(
                "a/b.jsonl.{}",
                match codec {
                    Compression::Gzip => "gz",
                    Compression::Zstd => "zst",
                    Compression::Snappy => "sz",
                    Compression::Bzip2 => "bz2",
                    Compression::Lz4 => "lz4",
                    _ => "zz",
                }
            );
            let out = read_all(decompress(&key, Compression::Auto, chunked(&packed, &[3])).await)
                .await
                .unwrap();
            assert!(out == data, "{codec:?} by extension");
            if codec != Compression::Deflate {
                let out = read_all(
                    decompress("a/b.jsonl", Compression::Auto, chunked(&packed, &[1, 2])).await,
                )
                .await
                .unwrap();
                assert!(out == data, "{codec:?} by magic");
            }
        }
        // Plain data stays as it is, even shorter than a magic number.
        for plain in [&b""[..], b"x", b"{\"a\":1}\n"] {
            let out =
                read_all(decompress("x.jsonl", Compression::Auto, chunked(plain, &[1])).await)
                    .await
                    .unwrap();
            assert_eq!(out, plain);
        }
    }

    /// Regression (fuzzing, `decompress`): an object shorter than a magic number, with a gzip
    /// magic, read with `auto` from a stream that panics when polled after its end (as the
    /// object reader's does). The truncated gzip is an error, not a panic.
    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_short_object_is_never_polled_past_its_end() {
        let object: &[u8] = &[0x1f, 0x8b, 0, 0, 0, 0, 0x23];
        let unfused = futures::stream::unfold(Some(Bytes::from_static(object)), |chunk| async {
            chunk.map(|c| (Ok(c), None))
        })
        .boxed();
        let out = read_all(decompress("o", Compression::Auto, unfused).await).await;
        assert!(out.is_err(), "{out:?}");
    }

    /// A panic while decoding (a decoder crate's, or a stream's) ends the bytes with an error,
    /// never with what reads as a clean end of the object.
    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_panic_while_decoding_is_an_error_not_an_end() {
        let mut packed = compress(Compression::Gzip, &sample());
        packed.truncate(packed.len() / 2);
        let mut sent = false;
        let panicking = futures::stream::poll_fn(move |_| {
            if sent {
                panic!("polled again");
            }
            sent = true;
            std::task::Poll::Ready(Some(Ok(Bytes::from(packed.clone()))))
        })
        .boxed();
        let out = read_all(decompress("o", Compression::Gzip, panicking).await).await;
        let e = out.expect_err("an error, not a short object");
        assert!(
            e.to_string()
                .contains("failed on corrupt data (polled again)"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn concatenated_members_are_all_read() {
        let mut packed = compress(Compression::Gzip, b"one\n");
        packed.extend(compress(Compression::Gzip, b"two\n"));
        let out = read_all(decompress("k", Compression::Gzip, chunked(&packed, &[5])).await)
            .await
            .unwrap();
        assert_eq!(out, b"one\ntwo\n");
        let mut packed = compress(Compression::Bzip2, b"one\n");
        packed.extend(compress(Compression::Bzip2, b"two\n"));
        let out = read_all(decompress("k", Compression::Bzip2, chunked(&packed, &[])).await)
            .await
            .unwrap();
        assert_eq!(out, b"one\ntwo\n");
        let mut packed = compress(Compression::Zstd, b"one\n");
        packed.extend(compress(Compression::Zstd, b"two\n"));
        let out = read_all(decompress("k", Compression::Zstd, chunked(&packed, &[])).await)
            .await
            .unwrap();
        assert_eq!(out, b"one\ntwo\n");
    }

    #[tokio::test]
    async fn truncated_and_corrupt_data_are_errors_naming_the_codec() {
        let data = sample();
        for &codec in CODECS {
            let packed = compress(codec, &data);
            let truncated = &packed[..packed.len() / 2];
            let err = read_all(decompress("k", codec, chunked(truncated, &[7])).await)
                .await
                .expect_err(&format!("{codec:?} truncated"));
            assert!(err.to_string().contains(codec.name()), "{codec:?}: {err}");

            let mut corrupt = packed.clone();
            let mid = corrupt.len() / 2;
            for b in &mut corrupt[mid..mid + 16] {
                *b ^= 0x5a;
            }
            let r = read_all(decompress("k", codec, chunked(&corrupt, &[])).await).await;
            match r {
                Err(e) => assert!(e.to_string().contains(codec.name()), "{codec:?}: {e}"),
                // Formats without a checksum may decode garbage, but never the original.
                Ok(out) => assert!(out != data, "{codec:?}"),
            }
        }
    }

    #[tokio::test]
    async fn a_stream_error_reaches_the_reader() {
        let packed = compress(Compression::Gzip, &sample());
        let stream = crate::test_util::failing(&[&packed[..100]], &packed[100..]);
        let err = read_all(decompress("k", Compression::Gzip, stream).await)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("connection reset"), "{err}");
    }

    #[tokio::test]
    async fn auto_reads_the_content_encoding() {
        use object_store::memory::InMemory;
        use object_store::path::Path;
        use object_store::{Attributes, ObjectStore, ObjectStoreExt, PutOptions};
        use std::sync::Arc;
        let store = Arc::new(InMemory::new());
        let path = Path::from("no-extension");
        let mut attributes = Attributes::new();
        attributes.insert(Attribute::ContentEncoding, "deflate".into());
        let packed = compress(Compression::Deflate, b"{\"a\":1}\n");
        let options = PutOptions {
            attributes,
            ..Default::default()
        };
        store.put_opts(&path, packed.into(), options).await.unwrap();
        let meta = store.head(&path).await.unwrap();
        let input = ObjectInput::new("b", store.clone() as Arc<dyn ObjectStore>, meta);
        assert_eq!(from_content_encoding(&input).await, Compression::Deflate);
        let t = crate::build(
            "jsonl",
            &crate::TransformerOptions {
                compression: Compression::Auto,
                ..Default::default()
            },
        )
        .unwrap();
        let records: Vec<_> = t.transform(input, 0).collect().await;
        assert_eq!(records.len(), 1);
        assert!(records[0].is_ok(), "{records:?}");
        store.put(&path, b"plain".to_vec().into()).await.unwrap();
        let meta = store.head(&path).await.unwrap();
        let input = ObjectInput::new("b", store as Arc<dyn ObjectStore>, meta);
        assert_eq!(from_content_encoding(&input).await, Compression::Auto);
    }

    #[test]
    fn names_parse_and_extensions_are_recognised() {
        for name in Compression::NAMES {
            assert_eq!(Compression::parse(name).unwrap().name(), *name);
        }
        assert!(Compression::parse("lzma").is_err());
        assert_eq!(
            Compression::from_extension("x/y.csv.GZ"),
            Some(Compression::Gzip)
        );
        assert_eq!(Compression::from_extension("x.gz/y"), None);
        assert_eq!(Compression::from_extension("noext"), None);
        assert!(is_zlib_header(&[0x78, 0x9c]));
        assert!(is_zlib_header(&[0x78, 0x01]));
        assert!(!is_zlib_header(b"{\""));
    }
}
