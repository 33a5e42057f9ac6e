//! The status byte ([UH-STATUS-1]).

/// Status 0: the replier's fault.
pub const REPLIER_FAULT: u8 = 0;
/// Status 1: ok. Every request carries it ([UH-STATUS-2]).
pub const OK: u8 = 1;
/// Status 2: the requester's fault.
pub const REQUESTER_FAULT: u8 = 2;

/// The meaning of a status byte ([UH-STATUS-1]). The byte is unsigned ([UH-FRAME-4]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// 0 — the replier's fault.
    ReplierFault,
    /// 1 — ok.
    Ok,
    /// 2 — the requester's fault.
    RequesterFault,
    /// 3 to 255 — reserved; a reply with one is a failure ([UH-STATUS-4]).
    Reserved(u8),
}

impl Status {
    /// Classifies a status byte.
    pub const fn from_byte(byte: u8) -> Status {
        match byte {
            REPLIER_FAULT => Status::ReplierFault,
            OK => Status::Ok,
            REQUESTER_FAULT => Status::RequesterFault,
            other => Status::Reserved(other),
        }
    }

    /// The byte on the wire.
    pub const fn byte(self) -> u8 {
        match self {
            Status::ReplierFault => REPLIER_FAULT,
            Status::Ok => OK,
            Status::RequesterFault => REQUESTER_FAULT,
            Status::Reserved(b) => b,
        }
    }

    /// Only status 1 is success ([UH-STATUS-4]).
    pub const fn is_success(self) -> bool {
        matches!(self, Status::Ok)
    }
}

impl From<u8> for Status {
    fn from(byte: u8) -> Self {
        Status::from_byte(byte)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_round_trips() {
        for b in 0..=u8::MAX {
            assert_eq!(Status::from_byte(b).byte(), b);
            assert_eq!(Status::from_byte(b).is_success(), b == 1);
        }
        assert_eq!(Status::from_byte(0xff), Status::Reserved(255));
    }
}
