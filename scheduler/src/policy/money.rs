//! Unit costs in integer micro-USD (the money type and its parsing are `domain::money`).

use super::plans::Anchors;

/// What one stamp of each anchor is budgeted at, in micro-USD.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnitCosts {
    pub ots_micro_usd: u64,
    pub tsa_micro_usd: u64,
}

impl UnitCosts {
    /// OTS $0.001: calendar submissions are free, but we budget for sponsoring Bitcoin fees.
    /// TSA $0.02: a typical commercial TSA price per stamp.
    pub fn standard() -> UnitCosts {
        UnitCosts {
            ots_micro_usd: 1_000,
            tsa_micro_usd: 20_000,
        }
    }

    /// The estimate for one root stamped with `anchors` (saturating: a configured cost near
    /// `u64::MAX` reads as "more than any ceiling", not as a wrapped small number).
    pub fn estimate(&self, anchors: Anchors) -> u64 {
        let ots = if anchors.ots { self.ots_micro_usd } else { 0 };
        let tsa = if anchors.tsa { self.tsa_micro_usd } else { 0 };
        ots.saturating_add(tsa)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimate_adds_the_cost_of_each_anchor() {
        let c = UnitCosts::standard();
        assert_eq!(c.estimate(Anchors::BOTH), 21_000);
        assert_eq!(c.estimate(Anchors::OTS), 1_000);
        assert_eq!(c.estimate(Anchors::TSA), 20_000);
        assert_eq!(c.estimate(Anchors::NONE), 0);
        let huge = UnitCosts {
            ots_micro_usd: u64::MAX,
            tsa_micro_usd: 1,
        };
        assert_eq!(huge.estimate(Anchors::BOTH), u64::MAX);
    }
}
