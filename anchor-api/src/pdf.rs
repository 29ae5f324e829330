//! Placeholder until the PDF renderer lands (helper branch).
pub fn receipt_pdf(_r: &ledger::formats::Receipt) -> Result<Vec<u8>, String> {
    Err("not yet".into())
}
