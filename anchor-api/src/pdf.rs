//! The one-page PDF receipt: a view of a signed receipt (`c2c.receipt.v1`) that a person can
//! read, print and file.
//!
//! Layout decisions:
//!
//! - **Rendered on request from the signed JSON, never stored.** The receipt JSON and its
//!   ES256 signature are the statement; the PDF is a view of it and is not signed. Rendering
//!   from the JSON each time means the view cannot drift from the statement, there is no
//!   second artifact to keep immutable, and a change of layout reaches every old receipt. The
//!   page says so, and prints the commands that check the JSON and the proofs themselves.
//! - **Built-in fonts only** (Helvetica for prose and labels, Courier for every value). The
//!   standard 14 fonts need no font file in the binary or the PDF, keep the page a few KB, and
//!   every viewer has them. They carry no width metrics in printpdf, so text is laid out by
//!   hand: Courier advances exactly 0.6 em per glyph, which makes a value's width exact and its
//!   wrapping safe — hence values (roots, hashes, URLs, keys, the signature) are monospace,
//!   which also tells `0` from `O` and `l` from `1`. Prose is Helvetica wrapped at a
//!   conservative estimate of its average advance (`SANS_ADVANCE`); it is text written here,
//!   not input.
//! - **Everything fits one A4 page.** Long values wrap at the value column's width (at a `:`
//!   or `/` when that costs no extra line, so the root breaks after its
//!   `c2c.merkle.v1:sha256:` prefix), and values that could be long without bound (run id,
//!   URLs, artifact keys, the calendar list) are capped at a few lines and end in `…`. If the
//!   page still overflows (many anchors), the whole page is laid out again at a smaller scale,
//!   down to the last of `SCALES`; at that step what still does not fit is left out and the
//!   footer says the JSON has it. Nothing is drawn past the margins.
//! - **Same receipt, same bytes.** No clock and no random id reaches the file: the document
//!   info dates are the receipt's `anchored_at` (printpdf would otherwise write the Unix
//!   epoch), and the trailer `/ID`, which printpdf fills from a process-wide counter, is
//!   replaced (both entries) by the first 32 hex digits of SHA-256 of the receipt JSON. So an
//!   `ETag` or a cache can key on the receipt.
//! - **Commands that work as printed.** "Verify it yourself" says where every file comes from
//!   (a `curl` from `$API` per file, saved under the name the checks use) and prints, per
//!   anchor that has an artifact, a check that exits 0 for this receipt's kind of anchor
//!   (mainnet or regtest, confirmed or pending: [`commands`] has the cases), so a tenant can
//!   paste the box into a shell in an empty folder. A command too long for the box is wrapped
//!   with shell line continuations, so it pastes back as itself.
//! - **No claims the page does not meet**: printpdf's empty `GTS_PDFXVersion` info entry,
//!   which readers report as PDF/X, is dropped; the file is plain PDF 1.3.

use ledger::formats::{AnchorEntry, Receipt, sha256_hex};
use ledger::ids::format_ts;
use ledger::{AnchorKind, AnchorStatus};
use printpdf::{
    BuiltinFont, Color, Greyscale, Line, LinePoint, Mm, OffsetDateTime, Op, PaintMode, PdfDocument,
    PdfFontHandle, PdfPage, PdfSaveOptions, Point, Pt, Rect, Rgb, TextItem,
};

/// A4 in points (210 mm × 297 mm).
const PAGE_W: f32 = 595.275_6;
const PAGE_H: f32 = 841.889_8;
const MARGIN_X: f32 = 48.0;
const MARGIN_TOP: f32 = 46.0;
/// The footer sits below this line; the body never goes lower.
const BODY_BOTTOM: f32 = 58.0;
const FOOTER_BASELINE: f32 = 36.0;

/// Courier: every glyph advances 600/1000 em.
const MONO_ADVANCE: f32 = 0.6;
/// Helvetica: an estimate above its average advance for running text (about 0.5 em for
/// lowercase and digits), so wrapped prose stays inside the column.
const SANS_ADVANCE: f32 = 0.53;
/// Helvetica-Bold is wider.
const SANS_BOLD_ADVANCE: f32 = 0.58;
/// Line height as a multiple of the font size.
const LEADING: f32 = 1.34;

/// The scales the page is laid out at, largest first; the first that fits is used.
const SCALES: [f32; 5] = [1.0, 0.92, 0.84, 0.76, 0.68];

/// At most this many calendar URLs are listed per anchor; the rest are counted.
const MAX_CALENDARS: usize = 4;

/// Renders one latest-or-older receipt as a one-page A4 PDF a person can read.
///
/// Infallible: the page is built from the receipt's typed fields with built-in fonts, and
/// the PDF is written into memory. The same receipt always gives the same bytes.
pub fn receipt_pdf(receipt: &Receipt) -> Vec<u8> {
    let ops = page_ops(receipt);
    let mut doc = PdfDocument::new(&format!(
        "Anchoring receipt {} {} v{}",
        receipt.tenant, receipt.period, receipt.version
    ));
    let at = OffsetDateTime::from_unix_timestamp(receipt.anchored_at.timestamp())
        .unwrap_or(OffsetDateTime::epoch());
    let info = &mut doc.metadata.info;
    info.creation_date = at;
    info.modification_date = at;
    info.metadata_date = at;
    "Ledger Anchors".clone_into(&mut info.creator);
    "Ledger Anchors anchor-api (printpdf)".clone_into(&mut info.producer);
    info.subject = format!(
        "Receipt for tenant {}, period {}",
        receipt.tenant, receipt.period
    );
    doc.with_pages(vec![PdfPage::new(Mm(210.0), Mm(297.0), ops)]);

    // What `PdfDocument::save` does (build, compress, write), with the trailer /ID pinned
    // in between.
    let mut warnings = Vec::new();
    let mut lo = doc.to_lopdf_document(&PdfSaveOptions::default(), &mut warnings);
    for w in &warnings {
        tracing::debug!(warning = ?w, "printpdf warning while rendering a receipt");
    }
    let id = sha256_hex(receipt.to_json_pretty().as_bytes());
    if let Ok(ids) = lo.trailer.get_mut(b"ID").and_then(|o| o.as_array_mut()) {
        for part in ids {
            if let Ok(bytes) = part.as_str_mut() {
                *bytes = id.as_bytes()[..32].to_vec();
            }
        }
    }
    // printpdf always writes `GTS_PDFXVersion` (empty here), which readers take as a claim
    // of PDF/X conformance; this page makes no such claim.
    if let Ok(info) = lo.trailer.get(b"Info")
        && let Ok(info_id) = info.as_reference()
        && let Ok(dict) = lo.get_object_mut(info_id).and_then(|o| o.as_dict_mut())
    {
        dict.remove(b"GTS_PDFXVersion");
    }
    lo.compress();
    let mut out = Vec::new();
    lo.save_to(&mut out)
        .expect("writing a PDF into a Vec does no I/O that can fail");
    out
}

// ---------------------------------------------------------------------------------------------
// What the page says

/// One piece of the page, top to bottom.
enum Block {
    Title(String),
    /// Small grey prose.
    Note(String),
    Heading(String),
    Rule,
    /// A label and a monospace value, wrapped to at most `max_lines` lines.
    Field {
        label: &'static str,
        value: String,
        max_lines: usize,
    },
    /// A label and one monospace line per item (e.g. calendar URLs).
    List {
        label: &'static str,
        items: Vec<String>,
    },
    /// Prose in a tinted frame: a fact the reader must not miss.
    Callout(String),
    /// Prose at body size.
    Prose(String),
    /// Commands to copy, with `#` comment lines, in a grey box; wrapped so that they paste
    /// back as the same text ([`command_lines`]).
    Commands(Vec<String>),
    /// A titled, framed group of fields (one anchor).
    Group {
        title: String,
        blocks: Vec<Block>,
    },
}

fn field(label: &'static str, value: impl Into<String>) -> Block {
    Block::Field {
        label,
        value: value.into(),
        max_lines: 3,
    }
}

fn field_capped(label: &'static str, value: impl Into<String>, max_lines: usize) -> Block {
    Block::Field {
        label,
        value: value.into(),
        max_lines,
    }
}

/// The receipt's blocks, in reading order: what was anchored, the tree, each anchor, how to
/// verify, and the signature.
fn content(r: &Receipt) -> Vec<Block> {
    let mut b = what_was_anchored(r);
    b.extend(the_tree(r));
    b.push(Block::Heading(format!("Anchors ({})", r.anchors.len())));
    for (i, a) in r.anchors.iter().enumerate() {
        b.push(anchor_group(i + 1, a));
    }
    b.extend([
        Block::Heading("Verify it yourself".into()),
        Block::Prose(verify_intro(r)),
        Block::Commands(commands(r)),
    ]);
    b.extend(signature(r));
    b
}

fn what_was_anchored(r: &Receipt) -> Vec<Block> {
    let mut b = vec![
        Block::Title("Ledger Anchors \u{2014} anchoring receipt".into()),
        Block::Note(
            "A readable view of a signed receipt (c2c.receipt.v1). The receipt JSON and its \
             signature are the statement; this PDF is not signed. Check the JSON and the \
             proofs with the commands under \u{201C}Verify it yourself\u{201D}."
                .into(),
        ),
        Block::Rule,
        Block::Heading("What was anchored".into()),
        field("Tenant", r.tenant.as_str()),
        field("Period", format!("{} ({} cadence)", r.period, r.cadence)),
        field(
            "Covered",
            format!(
                "{} to {} (end exclusive)",
                format_ts(r.covered.from),
                format_ts(r.covered.to)
            ),
        ),
        field("Anchored at", format_ts(r.anchored_at)),
        field(
            "Backfilled",
            if r.backfilled {
                "yes (see below)"
            } else {
                "no"
            },
        ),
    ];
    if r.backfilled {
        b.push(Block::Callout(format!(
            "Backfilled: this period was anchored after the period ended. The manifests are \
             proven to exist by the anchoring time ({}), not by the end of the period ({}).",
            format_ts(r.anchored_at),
            format_ts(r.covered.to)
        )));
    }
    b
}

fn the_tree(r: &Receipt) -> [Block; 4] {
    [
        field(
            "Receipt version",
            match r.supersedes {
                Some(prev) => format!("{}, superseding version {prev}", r.version),
                None => format!("{} (the first version)", r.version),
            },
        ),
        field("Root", r.root.to_string()),
        field(
            "Tree size",
            format!(
                "{} distinct manifest digest{}",
                r.tree_size,
                if r.tree_size == 1 { "" } else { "s" }
            ),
        ),
        field_capped(
            "Tree parameters",
            format!(
                "{}, {} tree, {} pairing, dup_last {}, leaf prefix \"{}\", canon {}",
                r.parameters.hash_alg,
                r.parameters.tree,
                r.parameters.pairing,
                r.parameters.dup_last,
                r.parameters.leaf_prefix,
                r.canon_version
            ),
            2,
        ),
    ]
}

fn signature(r: &Receipt) -> [Block; 7] {
    [
        Block::Heading("Signature".into()),
        field("Algorithm", r.alg.as_str()),
        field("Key id", r.kid.as_str()),
        field_capped("Run id", r.run_id.as_str(), 2),
        field("Summary hash", r.summary_hash.as_str()),
        field_capped("Signature", r.sig.as_str(), 3),
        Block::Note(
            "The signature covers the receipt JSON (its RFC 8785 form without the sig member), \
             not this PDF. The summary hash is the SHA-256 of the run summary that recorded \
             this run in the tenant's hash chain."
                .into(),
        ),
    ]
}

fn anchor_group(n: usize, a: &AnchorEntry) -> Block {
    let confirmed = a.status == AnchorStatus::Confirmed;
    let (title, time) = match a.kind {
        AnchorKind::Ots => (
            format!("{n}. OpenTimestamps, anchored in Bitcoin (ots)"),
            match (&a.bitcoin, a.status) {
                (Some(btc), _) => format!("{} (Bitcoin block time)", format_ts(btc.time)),
                (None, AnchorStatus::Pending) => {
                    "not yet: the proof has not reached a Bitcoin block".into()
                }
                (None, _) => "none".into(),
            },
        ),
        AnchorKind::Tsa => (
            format!("{n}. RFC 3161 timestamp authority (tsa)"),
            match a.gen_time {
                Some(t) => format!("{} (TSA genTime)", format_ts(t)),
                None => "none".into(),
            },
        ),
    };
    let status = match a.status {
        AnchorStatus::Confirmed => "confirmed",
        AnchorStatus::Pending if a.kind == AnchorKind::Ots => {
            "pending (submitted to the calendars, waiting for a Bitcoin block)"
        }
        AnchorStatus::Pending => "pending",
        AnchorStatus::Failed => "failed (this anchor proves nothing)",
        AnchorStatus::Skipped => "skipped (not attempted for this run)",
    };
    let mut blocks = vec![
        field("Type", a.kind.as_str()),
        field("Status", status),
        field("Time", time),
    ];
    if let Some(btc) = a.bitcoin.as_ref().filter(|_| confirmed) {
        blocks.push(field("Block height", btc.height.to_string()));
        blocks.push(field("Block hash", btc.block_hash.as_str()));
        if let Some(txid) = &btc.txid {
            blocks.push(field("Transaction", txid.as_str()));
        }
        blocks.push(field(
            "Network",
            match btc.network {
                Some(ledger::formats::BitcoinNetwork::Bitcoin) => "bitcoin (main network)",
                Some(ledger::formats::BitcoinNetwork::Regtest) => {
                    "regtest (a local test chain: proves nothing about time)"
                }
                None => "not stated (receipt signed before networks were recorded)",
            },
        ));
    }
    if let Some(cals) = &a.calendars {
        let mut items: Vec<String> = cals.iter().take(MAX_CALENDARS).cloned().collect();
        if cals.len() > MAX_CALENDARS {
            items.push(format!(
                "\u{2026} and {} more (see the receipt JSON)",
                cals.len() - MAX_CALENDARS
            ));
        }
        blocks.push(Block::List {
            label: "Calendars",
            items,
        });
    }
    if let Some(url) = &a.tsa_url {
        blocks.push(field_capped("TSA URL", url.as_str(), 2));
    }
    if let Some(art) = &a.artifact {
        blocks.push(field_capped("Artifact", art.key.as_str(), 2));
        blocks.push(field("Artifact SHA-256", art.sha256.as_str()));
    }
    Block::Group { title, blocks }
}

/// The anchor entry whose artifact a command checks: the first of `kind` that has one
/// (a `skipped` or `failed` anchor has no artifact, so nothing to download or check).
fn stored(r: &Receipt, kind: AnchorKind) -> Option<&AnchorEntry> {
    r.anchors
        .iter()
        .find(|a| a.kind == kind && a.artifact.is_some())
}

/// Which network a confirmed OTS anchor's block is on; a receipt signed before networks
/// were recorded is taken as Bitcoin's main network (the only one such receipts used).
fn is_regtest(ots: &AnchorEntry) -> bool {
    ots.bitcoin
        .as_ref()
        .is_some_and(|b| b.network == Some(ledger::formats::BitcoinNetwork::Regtest))
}

/// What to set and gather before [`commands`]: `$API`, a token for a private tenant, and the
/// trust anchors the service cannot hand out (the TSA's CA, a regtest chain's headers).
fn verify_intro(r: &Receipt) -> String {
    let mut s = "In an empty folder, set API to this service's address (API=https://\u{2026}; \
                 a private tenant adds -H \"Authorization: Bearer $TOKEN\" to each curl) and \
                 run the commands in order; each exits 0 when its check passes."
        .to_owned();
    if stored(r, AnchorKind::Tsa).is_some() {
        s.push_str(
            " Save the TSA's CA certificate as tsa-ca.pem: get it from the TSA, not from \
             this service.",
        );
    }
    if stored(r, AnchorKind::Ots).is_some_and(is_regtest) {
        s.push_str(
            " The Bitcoin anchor is on a local regtest chain, which no Bitcoin node or \
             explorer knows: save its block headers as headers.json from whoever runs that \
             chain (anchor demo writes DATA/dev-headers.json).",
        );
    }
    s.push_str(
        " The anchor commands are this service's CLI: a convenience, where ots and openssl \
         are independent.",
    );
    s
}

/// The "Verify it yourself" box: where each file comes from (`curl` from `$API`, under the
/// name the checks use), then one check per stored anchor and `anchor verify receipt`.
///
/// Decision — every command works exactly as printed, in the folder the downloads fill, for
/// the receipt it is printed on (`cli/tests/verify.rs` copies them out of `pdftotext`'s text
/// of `anchor demo` receipts served by `anchor api`, and runs them):
///
/// - A skipped or failed anchor has no artifact: nothing is downloaded or checked for it
///   (`anchor verify receipt` then exits 3 for skipped, 1 for failed, as it says).
/// - OpenTimestamps on Bitcoin's main network (or a receipt that predates networks):
///   `ots verify -f root.bin root.ots`, the reference client, which asks a local Bitcoin
///   Core node (the comment says so); `anchor verify` takes headers from Esplora.
/// - OpenTimestamps on regtest (the demo's dev calendars): no `ots verify` form can succeed
///   (the client checks attestations only against a node of that chain, and exits 1 with
///   `--no-bitcoin`), so the reference client reads the proof (`ots info`, exit 0) and
///   `anchor ots verify --headers headers.json --regtest` checks it against the chain's
///   headers, which the reader gets from whoever runs the chain.
/// - A pending proof: `ots info` shows where it waits; `ots verify` would exit 1 until a
///   block confirms it, and `anchor verify receipt` exits 3 (pending), as documented.
/// - `anchor verify receipt` needs `chain.jsonl` (the tenant's run-summary chain), `--ca`
///   whenever a TSA token is to be checked and a header source whenever a Bitcoin block is
///   claimed, so those are downloaded or named.
fn commands(r: &Receipt) -> Vec<String> {
    let (tenant, period) = (r.tenant.as_str(), r.period.to_string());
    let ots = stored(r, AnchorKind::Ots);
    let tsa = stored(r, AnchorKind::Tsa);
    let mut c = vec![
        "# Download: the receipt, the root, its proofs, the keys, the tenant's chain".to_owned(),
        format!("curl -fsS -o receipt.json $API/anchor/receipt/{tenant}/{period}"),
    ];
    let mut files = vec!["root.bin"];
    files.extend(ots.map(|_| "root.ots"));
    files.extend(tsa.map(|_| "root.tsr"));
    for f in files {
        c.push(format!(
            "curl -fsS -o {f} $API/anchor/artifact/{tenant}/{period}/{f}"
        ));
    }
    c.push("curl -fsS -o jwks.json $API/.well-known/jwks.json".into());
    c.push(format!(
        "curl -fsS -o chain.jsonl $API/anchor/chain/{tenant}"
    ));

    // jwks.json and chain.jsonl are read from the receipt's folder.
    let mut verify = String::from("anchor verify receipt receipt.json");
    if let Some(ots) = ots {
        match &ots.bitcoin {
            Some(btc) if is_regtest(ots) => {
                c.push(format!(
                    "# OpenTimestamps: root.bin is committed to in block {} of a regtest chain",
                    btc.height
                ));
                c.push("ots info root.ots".into());
                c.push(
                    "anchor ots verify root.ots --data root.bin --headers headers.json --regtest"
                        .into(),
                );
                verify.push_str(" --headers headers.json --regtest");
            }
            Some(btc) => {
                c.push(format!(
                    "# OpenTimestamps: root.bin is committed to in Bitcoin block {} (asks a \
                     local Bitcoin Core node)",
                    btc.height
                ));
                c.push("ots verify -f root.bin root.ots".into());
                verify.push_str(" --esplora https://blockstream.info/api");
            }
            None => {
                c.push(
                    "# OpenTimestamps: pending at the calendars; download root.ots again later"
                        .into(),
                );
                c.push("ots info root.ots".into());
            }
        }
    }
    if tsa.is_some() {
        c.push("# RFC 3161: the TSA signed the hash of root.bin at its genTime".into());
        c.push("openssl ts -verify -data root.bin -in root.tsr -CAfile tsa-ca.pem".into());
        verify.push_str(" --ca tsa-ca.pem");
    }
    c.push("# All of it: signature (kid below), root.bin, artifacts, anchors, chain".into());
    c.push(verify);
    c
}

/// A command or comment as lines of at most `cols` characters that paste back into a shell
/// as the same text: a wrapped command ends each line but its last with `\` (a backslash
/// before a newline joins the lines; after a space when the break replaced one), and a
/// wrapped comment starts each line with `#`.
fn command_lines(cmd: &str, cols: usize) -> Vec<String> {
    if cmd.chars().count() <= cols {
        return vec![cmd.to_owned()];
    }
    if let Some(comment) = cmd.strip_prefix('#') {
        return wrap(comment.trim_start(), cols.saturating_sub(2).max(1))
            .into_iter()
            .map(|l| format!("# {l}"))
            .collect();
    }
    // Room for " \" on every line; wrap() breaks at single spaces, which it drops.
    let pieces = wrap(cmd, cols.saturating_sub(2).max(1));
    let chars: Vec<char> = cmd.chars().collect();
    let mut at = 0;
    let last = pieces.len() - 1;
    pieces
        .into_iter()
        .enumerate()
        .map(|(i, piece)| {
            at += piece.chars().count();
            if i == last {
                return piece;
            }
            if chars.get(at) == Some(&' ') {
                at += 1;
                format!("{piece} \\")
            } else {
                format!("{piece}\\")
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Drawing

#[derive(Clone, Copy)]
enum Ink {
    Text,
    Label,
    Muted,
    Heading,
    Rule,
    BoxFill,
    BoxEdge,
    CalloutFill,
    CalloutEdge,
}

impl Ink {
    fn color(self) -> Color {
        let grey = |percent| {
            Color::Greyscale(Greyscale {
                percent,
                icc_profile: None,
            })
        };
        let rgb = |r, g, b| {
            Color::Rgb(Rgb {
                r,
                g,
                b,
                icc_profile: None,
            })
        };
        match self {
            Ink::Text => grey(0.08),
            Ink::Label => grey(0.3),
            Ink::Muted => grey(0.38),
            Ink::Heading => rgb(0.08, 0.2, 0.42),
            Ink::Rule => grey(0.72),
            Ink::BoxFill => grey(0.95),
            Ink::BoxEdge => grey(0.8),
            Ink::CalloutFill => rgb(1.0, 0.95, 0.82),
            Ink::CalloutEdge => rgb(0.82, 0.6, 0.15),
        }
    }
}

/// How many glyphs of `advance` em at `size` pt fit in `width` pt (at least 8, so a value
/// always makes progress).
fn columns(width: f32, size: f32, advance: f32) -> usize {
    #[allow(
        clippy::cast_sign_loss,
        reason = "width and size are positive page measures, so the floor is a small count"
    )]
    let n = (width / (size * advance)).floor().max(0.0) as usize;
    n.max(8)
}

fn lines_f32(n: usize) -> f32 {
    f32::from(u16::try_from(n).unwrap_or(u16::MAX))
}

/// A glyph the built-in fonts' encoding can draw: control characters become `?` (`WinAnsi`
/// has no glyph for them; printpdf maps other unknown characters to `?` itself).
fn printable(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

fn is_break_after(c: char) -> bool {
    matches!(c, ':' | '/' | ',' | '&' | '?')
}

/// Wraps `text` to lines of at most `cols` characters: at spaces, and inside a word longer
/// than a line at the last `:` or `/` that does not cost an extra line, else anywhere.
fn wrap(text: &str, cols: usize) -> Vec<String> {
    let cols = cols.max(1);
    let mut lines = Vec::new();
    let mut line: Vec<char> = Vec::new();
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let mut word: Vec<char> = word.chars().collect();
        let need = if line.is_empty() {
            word.len()
        } else {
            line.len() + 1 + word.len()
        };
        if need <= cols {
            if !line.is_empty() {
                line.push(' ');
            }
            line.append(&mut word);
            continue;
        }
        if !line.is_empty() {
            lines.push(line.drain(..).collect());
        }
        while word.len() > cols {
            let fewest = word.len().div_ceil(cols);
            let cut = (1..=cols)
                .rev()
                .find(|&i| {
                    is_break_after(word[i - 1]) && 1 + (word.len() - i).div_ceil(cols) == fewest
                })
                .unwrap_or(cols);
            lines.push(word.drain(..cut).collect());
        }
        line = word;
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line.into_iter().collect());
    }
    lines
}

/// [`wrap`], then at most `max_lines`, the last one ending in `…` when something was cut.
fn wrap_capped(text: &str, cols: usize, max_lines: usize) -> Vec<String> {
    let mut lines = wrap(text, cols);
    if lines.len() > max_lines.max(1) {
        lines.truncate(max_lines.max(1));
        if let Some(last) = lines.last_mut() {
            let mut kept: Vec<char> = last.chars().collect();
            kept.truncate(cols.saturating_sub(1));
            *last = kept.into_iter().collect::<String>() + "\u{2026}";
        }
    }
    lines
}

/// Sizes at one scale.
#[derive(Clone, Copy)]
struct Style {
    scale: f32,
}

impl Style {
    fn title(self) -> f32 {
        17.0 * self.scale
    }
    fn heading(self) -> f32 {
        10.5 * self.scale
    }
    fn body(self) -> f32 {
        8.5 * self.scale
    }
    fn small(self) -> f32 {
        7.5 * self.scale
    }
    fn label_width(self) -> f32 {
        96.0 * self.scale
    }
    /// Inner padding of frames.
    fn pad(self) -> f32 {
        7.0 * self.scale
    }
    fn gap(self) -> f32 {
        6.0 * self.scale
    }
}

/// A monospace or sans line to draw at `x`.
struct TextLine {
    x: f32,
    font: BuiltinFont,
    size: f32,
    ink: Ink,
    text: String,
}

struct Canvas {
    style: Style,
    ops: Vec<Op>,
    /// The top of the space left, in points from the page's bottom edge.
    y: f32,
    /// Something did not fit and was left out.
    overflow: bool,
}

impl Canvas {
    fn new(style: Style) -> Canvas {
        Canvas {
            style,
            ops: Vec::new(),
            y: PAGE_H - MARGIN_TOP,
            overflow: false,
        }
    }

    fn fits(&mut self, height: f32) -> bool {
        let ok = self.y - height >= BODY_BOTTOM;
        if !ok {
            self.overflow = true;
        }
        ok
    }

    fn draw_text(
        &mut self,
        x: f32,
        baseline: f32,
        font: BuiltinFont,
        size: f32,
        ink: Ink,
        s: &str,
    ) {
        self.ops.extend([
            Op::StartTextSection,
            Op::SetFont {
                font: PdfFontHandle::Builtin(font),
                size: Pt(size),
            },
            Op::SetFillColor { col: ink.color() },
            Op::SetTextCursor {
                pos: Point {
                    x: Pt(x),
                    y: Pt(baseline),
                },
            },
            Op::ShowText {
                items: vec![TextItem::Text(s.to_owned())],
            },
            Op::EndTextSection,
        ]);
    }

    /// Draws one line (or leaves it out when the page is full) and moves down.
    fn line(&mut self, l: &TextLine) {
        let h = l.size * LEADING;
        if !self.fits(h) {
            return;
        }
        self.draw_text(l.x, self.y - l.size, l.font, l.size, l.ink, &l.text);
        self.y -= h;
    }

    fn rect(&mut self, x: f32, top: f32, width: f32, height: f32, fill: Ink, edge: Ink) {
        self.ops.extend([
            Op::SetFillColor { col: fill.color() },
            Op::SetOutlineColor { col: edge.color() },
            Op::SetOutlineThickness { pt: Pt(0.6) },
            Op::DrawRectangle {
                rectangle: Rect {
                    x: Pt(x),
                    y: Pt(top - height),
                    width: Pt(width),
                    height: Pt(height),
                    mode: Some(PaintMode::FillStroke),
                    winding_order: None,
                },
            },
        ]);
    }

    fn hline(&mut self, x0: f32, x1: f32, y: f32) {
        let p = |x| LinePoint {
            p: Point { x: Pt(x), y: Pt(y) },
            bezier: false,
        };
        self.ops.extend([
            Op::SetOutlineColor {
                col: Ink::Rule.color(),
            },
            Op::SetOutlineThickness { pt: Pt(0.6) },
            Op::DrawLine {
                line: Line {
                    points: vec![p(x0), p(x1)],
                    is_closed: false,
                },
            },
        ]);
    }

    /// Lines of prose in `font` across `width` from `x`.
    fn prose_lines(
        x: f32,
        width: f32,
        font: BuiltinFont,
        size: f32,
        ink: Ink,
        text: &str,
    ) -> Vec<TextLine> {
        let advance = if matches!(font, BuiltinFont::HelveticaBold) {
            SANS_BOLD_ADVANCE
        } else {
            SANS_ADVANCE
        };
        wrap(&printable(text), columns(width, size, advance))
            .into_iter()
            .map(|text| TextLine {
                x,
                font,
                size,
                ink,
                text,
            })
            .collect()
    }

    /// The lines of a label/value block (field or list) in a column from `x` of `width`.
    fn value_lines(
        &self,
        x: f32,
        width: f32,
        label: &str,
        values: &[(String, usize)],
    ) -> Vec<TextLine> {
        let st = self.style;
        let size = st.body();
        let vx = x + st.label_width();
        let cols = columns(width - st.label_width(), size, MONO_ADVANCE);
        let mut out = Vec::new();
        for (value, max_lines) in values {
            for text in wrap_capped(&printable(value), cols, *max_lines) {
                out.push(TextLine {
                    x: vx,
                    font: BuiltinFont::Courier,
                    size,
                    ink: Ink::Text,
                    text,
                });
            }
        }
        if out.is_empty() {
            out.push(TextLine {
                x: vx,
                font: BuiltinFont::Courier,
                size,
                ink: Ink::Text,
                text: String::new(),
            });
        }
        // The label goes on the first value line; drawn separately, at the same baseline.
        out.insert(
            0,
            TextLine {
                x,
                font: BuiltinFont::HelveticaBold,
                size,
                ink: Ink::Label,
                text: label.to_owned(),
            },
        );
        out
    }

    /// Draws label/value lines: the label beside the first value line.
    fn draw_value_lines(&mut self, lines: &[TextLine]) {
        let Some((label, values)) = lines.split_first() else {
            return;
        };
        let h = label.size * LEADING;
        if !self.fits(h) {
            return;
        }
        self.draw_text(
            label.x,
            self.y - label.size,
            label.font,
            label.size,
            label.ink,
            &label.text,
        );
        for l in values {
            self.line(l);
        }
    }

    fn block_lines(&self, x: f32, width: f32, b: &Block) -> Vec<TextLine> {
        match b {
            Block::Field {
                label,
                value,
                max_lines,
            } => self.value_lines(x, width, label, &[(value.clone(), *max_lines)]),
            Block::List { label, items } => {
                let v: Vec<(String, usize)> = items.iter().map(|i| (i.clone(), 1)).collect();
                self.value_lines(x, width, label, &v)
            }
            _ => Vec::new(),
        }
    }

    fn block(&mut self, b: &Block) {
        let st = self.style;
        let x = MARGIN_X;
        let width = PAGE_W - 2.0 * MARGIN_X;
        match b {
            Block::Title(t) => {
                let lines = Self::prose_lines(
                    x,
                    width,
                    BuiltinFont::HelveticaBold,
                    st.title(),
                    Ink::Heading,
                    t,
                );
                for l in &lines {
                    self.line(l);
                }
                self.y -= st.gap() * 0.5;
            }
            Block::Note(t) => {
                for l in
                    &Self::prose_lines(x, width, BuiltinFont::Helvetica, st.small(), Ink::Muted, t)
                {
                    self.line(l);
                }
            }
            Block::Prose(t) => {
                for l in
                    &Self::prose_lines(x, width, BuiltinFont::Helvetica, st.body(), Ink::Text, t)
                {
                    self.line(l);
                }
                self.y -= st.gap() * 0.5;
            }
            Block::Heading(t) => {
                self.y -= st.gap();
                let l = TextLine {
                    x,
                    font: BuiltinFont::HelveticaBold,
                    size: st.heading(),
                    ink: Ink::Heading,
                    text: printable(t),
                };
                // Keep a heading with at least one line after it.
                if self.fits(st.heading() * LEADING + st.body() * LEADING) {
                    self.line(&l);
                }
            }
            Block::Rule => {
                self.y -= st.gap() * 0.6;
                if self.fits(st.gap()) {
                    let y = self.y;
                    self.hline(x, x + width, y);
                }
                self.y -= st.gap() * 0.4;
            }
            Block::Field { .. } | Block::List { .. } => {
                let lines = self.block_lines(x, width, b);
                self.draw_value_lines(&lines);
            }
            Block::Callout(t) => {
                let pad = st.pad();
                let lines = Self::prose_lines(
                    x + pad,
                    width - 2.0 * pad,
                    BuiltinFont::HelveticaBold,
                    st.body(),
                    Ink::Text,
                    t,
                );
                self.framed(x, width, &[lines], Ink::CalloutFill, Ink::CalloutEdge);
            }
            Block::Commands(cmds) => self.commands(x, width, cmds),
            Block::Group { title, blocks } => self.group(x, width, title, blocks),
        }
    }

    /// Commands in a grey box, `#` comment lines muted.
    fn commands(&mut self, x: f32, width: f32, cmds: &[String]) {
        let pad = self.style.pad();
        let size = self.style.body();
        let cols = columns(width - 2.0 * pad, size, MONO_ADVANCE);
        let lines = cmds
            .iter()
            .flat_map(|c| {
                let ink = if c.starts_with('#') {
                    Ink::Muted
                } else {
                    Ink::Text
                };
                command_lines(&printable(c), cols)
                    .into_iter()
                    .map(move |text| TextLine {
                        x: x + pad,
                        font: BuiltinFont::Courier,
                        size,
                        ink,
                        text,
                    })
            })
            .collect::<Vec<_>>();
        self.framed(x, width, &[lines], Ink::BoxFill, Ink::BoxEdge);
    }

    /// A titled frame of fields (one anchor).
    fn group(&mut self, x: f32, width: f32, title: &str, blocks: &[Block]) {
        let st = self.style;
        self.y -= st.gap() * 0.5;
        let pad = st.pad();
        let inner_x = x + pad;
        let inner_w = width - 2.0 * pad;
        let mut groups = vec![vec![TextLine {
            x: inner_x,
            font: BuiltinFont::HelveticaBold,
            size: st.body(),
            ink: Ink::Heading,
            text: printable(title),
        }]];
        groups.extend(blocks.iter().map(|b| self.block_lines(inner_x, inner_w, b)));
        self.framed(x, width, &groups, Ink::BoxFill, Ink::BoxEdge);
    }

    /// Draws groups of lines inside a frame. A group of value lines (from
    /// [`Canvas::value_lines`]) starts with its label, which shares the next line's baseline.
    fn framed(&mut self, x: f32, width: f32, groups: &[Vec<TextLine>], fill: Ink, edge: Ink) {
        let pad = self.style.pad();
        let height_of = |g: &Vec<TextLine>| -> f32 {
            let shares = usize::from(is_label_group(g));
            g.iter().map(|l| l.size * LEADING).sum::<f32>()
                - g.first().map_or(0.0, |l| l.size * LEADING) * lines_f32(shares)
        };
        let inner: f32 = groups.iter().map(height_of).sum();
        let height = inner + 2.0 * pad;
        if self.fits(height) {
            let top = self.y;
            self.rect(x, top, width, height, fill, edge);
        }
        // Drawn line by line even when the frame did not fit, so what fits is still shown.
        self.y -= pad;
        for g in groups {
            if is_label_group(g) {
                self.draw_value_lines(g);
            } else {
                for l in g {
                    self.line(l);
                }
            }
        }
        self.y -= pad;
        self.y -= self.style.gap() * 0.5;
    }

    fn footer(&mut self, r: &Receipt) {
        let st = self.style;
        let width = PAGE_W - 2.0 * MARGIN_X;
        self.hline(MARGIN_X, MARGIN_X + width, BODY_BOTTOM - 6.0);
        let text = if self.overflow {
            format!(
                "{} {} v{} \u{b7} Some values did not fit this page and were left out; the \
                 receipt JSON has them all.",
                r.tenant, r.period, r.version
            )
        } else {
            format!(
                "{} {} v{} \u{b7} a view of the signed receipt JSON (c2c.receipt.v1), which is \
                 the statement",
                r.tenant, r.period, r.version
            )
        };
        let size = st.small();
        let cols = columns(width, size, SANS_ADVANCE);
        let line = wrap_capped(&printable(&text), cols, 1).remove(0);
        self.draw_text(
            MARGIN_X,
            FOOTER_BASELINE,
            BuiltinFont::Helvetica,
            size,
            Ink::Muted,
            &line,
        );
    }
}

/// Whether a group of lines is a label/value block: its first line is a label in the value
/// font's size, at the left, followed by Courier lines.
fn is_label_group(g: &[TextLine]) -> bool {
    g.len() >= 2
        && matches!(g[0].font, BuiltinFont::HelveticaBold)
        && matches!(g[1].font, BuiltinFont::Courier)
        && g[1].x > g[0].x
}

fn page_ops(r: &Receipt) -> Vec<Op> {
    let blocks = content(r);
    let mut last = None;
    for scale in SCALES {
        let mut c = Canvas::new(Style { scale });
        for b in &blocks {
            c.block(b);
        }
        let overflow = c.overflow;
        c.footer(r);
        if !overflow {
            return c.ops;
        }
        last = Some(c.ops);
    }
    last.unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_root_wraps_after_its_prefix_when_that_costs_no_line() {
        let root = format!("c2c.merkle.v1:sha256:0x{}", "ab".repeat(32));
        let lines = wrap(&root, 78);
        assert_eq!(
            lines,
            vec![
                "c2c.merkle.v1:sha256:".to_owned(),
                format!("0x{}", "ab".repeat(32))
            ]
        );
    }

    /// What a shell makes of pasted lines: a backslash before a newline joins them.
    fn as_shell_reads(lines: &[String]) -> String {
        lines.join("\n").replace("\\\n", "")
    }

    #[test]
    fn a_wrapped_command_pastes_back_as_the_same_command() {
        let cmd = "anchor verify receipt receipt.json --ca tsa-ca.pem --headers headers.json \
                   --regtest";
        for cols in 10..90 {
            let lines = command_lines(cmd, cols);
            assert!(lines.iter().all(|l| l.chars().count() <= cols), "{lines:?}");
            assert_eq!(as_shell_reads(&lines), cmd, "at {cols}: {lines:?}");
        }
        let url = format!(
            "curl -fsS -o root.bin $API/anchor/artifact/{}/root.bin",
            "t".repeat(80)
        );
        let lines = command_lines(&url, 40);
        assert!(lines.len() > 2);
        assert_eq!(as_shell_reads(&lines), url);
        assert_eq!(command_lines(cmd, 200), vec![cmd.to_owned()]);
    }

    #[test]
    fn a_wrapped_comment_stays_a_comment_on_every_line() {
        let lines = command_lines(&format!("# {}", "word ".repeat(30)), 30);
        assert!(lines.len() > 3);
        assert!(
            lines
                .iter()
                .all(|l| l.starts_with("# ") && l.chars().count() <= 30)
        );
    }

    #[test]
    fn no_wrapped_line_is_longer_than_its_columns() {
        let text =
            "a few words and one very long token xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx end";
        for cols in 8..40 {
            for l in wrap(text, cols) {
                assert!(l.chars().count() <= cols, "{l:?} at {cols}");
            }
        }
        let capped = wrap_capped(&"z".repeat(100), 10, 2);
        assert_eq!(capped.len(), 2);
        assert!(capped[1].ends_with('\u{2026}') && capped[1].chars().count() == 10);
    }
}
