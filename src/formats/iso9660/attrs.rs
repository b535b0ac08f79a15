//! The attributes this reader gives entries, named once: the walk makes the
//! entries' facts from these names, and the byte layout names them as what
//! explains a field's bytes, so the two cannot drift apart.

use crate::model::key::{Attr, Key};
use crate::model::span::Keys;

/// The ISO 9660 name of a record (`FOO.TXT;1`).
pub(crate) const ISO_NAME: Attr = Attr::new("iso.name");
/// The Joliet name, where the Joliet tree was walked.
pub(crate) const JOLIET_NAME: Attr = Attr::new("joliet.name");
/// The HFS+ name of a file of a hybrid image (its catalog record's key).
pub(crate) const HFSPLUS_NAME: Attr = Attr::new("hfsplus.name");
/// The HFS+ catalog record's creation date of a file.
pub(crate) const HFSPLUS_CREATE_DATE: Attr = Attr::new("hfsplus.record.create_date");
/// The HFS+ catalog record's content modification date of a file.
pub(crate) const HFSPLUS_MODIFY_DATE: Attr = Attr::new("hfsplus.record.content_mod_date");
/// The HFS+ catalog record's attribute modification date of a file.
pub(crate) const HFSPLUS_ATTRIBUTE_DATE: Attr = Attr::new("hfsplus.record.attribute_mod_date");
/// The HFS+ catalog record's access date of a file.
pub(crate) const HFSPLUS_ACCESS_DATE: Attr = Attr::new("hfsplus.record.access_date");
/// The HFS+ catalog record's backup date of a file.
pub(crate) const HFSPLUS_BACKUP_DATE: Attr = Attr::new("hfsplus.record.backup_date");
/// The five dates of an HFS+ catalog file record, in their order there.
pub(crate) const HFSPLUS_DATES: [Attr; 5] = [
    HFSPLUS_CREATE_DATE,
    HFSPLUS_MODIFY_DATE,
    HFSPLUS_ATTRIBUTE_DATE,
    HFSPLUS_ACCESS_DATE,
    HFSPLUS_BACKUP_DATE,
];
/// A directory record's file flags.
pub(crate) const RECORD_FLAGS: Attr = Attr::new("record.flags");
/// A directory record's recording date.
pub(crate) const RECORD_DATE: Attr = Attr::new("record.date");
/// A directory record's file unit size (interleaving).
pub(crate) const RECORD_FILE_UNIT_SIZE: Attr = Attr::new("record.file_unit_size");
/// A directory record's interleave gap.
pub(crate) const RECORD_INTERLEAVE_GAP: Attr = Attr::new("record.interleave_gap");
/// A directory record's volume sequence number.
pub(crate) const RECORD_VOLUME_SEQUENCE: Attr = Attr::new("record.volume_sequence_number");
/// A directory record's extended attribute record length.
pub(crate) const RECORD_EXT_ATTR_LENGTH: Attr = Attr::new("record.ext_attr_length");
/// A Rock Ridge PN entry's device number, as stored.
pub(crate) const RR_PN: Attr = Attr::new("rr.pn");
/// A Rock Ridge RR entry's flags (RRIP 1.09).
pub(crate) const RR_FLAGS: Attr = Attr::new("rr.rr_flags");
/// A boot info table's file length.
pub(crate) const BOOT_INFO_FILE_LENGTH: Attr = Attr::new("boot_info_table.file_length");
/// A boot info table's checksum.
pub(crate) const BOOT_INFO_CHECKSUM: Attr = Attr::new("boot_info_table.checksum");

/// One stamp a Rock Ridge TF entry can hold.
pub(crate) struct TfStamp {
    /// Its name (`creation`).
    pub name: &'static str,
    /// The name of its bytes in the byte layout.
    pub field: &'static str,
    /// The entry attribute it is, when no time of the entry's metadata holds it.
    pub attr: Option<Attr>,
    /// What its difference is reported as.
    pub keys: Keys,
}

const fn stamp(name: &'static str, field: &'static str, keys: Keys) -> TfStamp {
    let attr = match keys {
        [Key::Attribute(a)] => Some(*a),
        _ => None,
    };
    TfStamp {
        name,
        field,
        attr,
        keys,
    }
}

/// The TF stamps in flag-bit order (RRIP 1.12 4.1.6): bit 1 is modification
/// and bit 2 access, whatever some libraries say. Those the entry's three
/// times do not hold are attributes.
pub(crate) const TF: [TfStamp; 7] = [
    stamp(
        "creation",
        "creation stamp",
        &[Key::Attribute(Attr::new("rr.tf.creation"))],
    ),
    stamp("modify", "modify stamp", &[Key::MTIME]),
    stamp("access", "access stamp", &[Key::ATIME]),
    stamp("attributes", "attributes stamp", &[Key::CTIME]),
    stamp(
        "backup",
        "backup stamp",
        &[Key::Attribute(Attr::new("rr.tf.backup"))],
    ),
    stamp(
        "expiration",
        "expiration stamp",
        &[Key::Attribute(Attr::new("rr.tf.expiration"))],
    ),
    stamp(
        "effective",
        "effective stamp",
        &[Key::Attribute(Attr::new("rr.tf.effective"))],
    ),
];

/// The attribute of part `what` (`id`, `descriptor`, `source`, `version`) of
/// the `n`th ER entry of a record (counted from 1).
pub(crate) fn er(n: u32, what: &str) -> String {
    format!("susp.er{n}.{what}")
}

/// The attribute of a SUSP entry of signature `sig` that no field of the model
/// holds: named by the signature, or by its hex when that is no text.
pub(crate) fn other_susp(sig: &[u8]) -> String {
    let text = String::from_utf8_lossy(sig);
    if text.chars().all(|c| c.is_ascii_alphanumeric()) {
        format!("susp.{text}")
    } else {
        format!("susp.{}", crate::model::hex(sig))
    }
}
