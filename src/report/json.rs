//! The JSON report (version 1 of the contract in `../shared/DESIGN.md`).

use std::io::Write;

use super::Report;

/// Writes `report` as one JSON object.
pub fn write(report: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    #[derive(serde::Serialize)]
    struct Versioned<'a> {
        isodiff_report: u32,
        #[serde(flatten)]
        report: &'a Report,
        /// Of `differences`, how many only follow from the others (marked
        /// `consequence`): the differences a user must read are the rest.
        consequences: u64,
    }
    serde_json::to_writer_pretty(
        &mut *out,
        &Versioned {
            isodiff_report: 1,
            report,
            consequences: report.consequences(),
        },
    )?;
    writeln!(out)
}
