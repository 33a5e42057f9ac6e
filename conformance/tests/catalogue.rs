//! The catalogue: stable, well-formed, and covering every MUST a node shows on the wire.

use std::collections::BTreeSet;

use uhome_conformance::case::Level;
use uhome_conformance::cases::{catalogue, NOT_ON_THE_WIRE};
use uhome_conformance::spec::requirements;

#[test]
fn case_ids_are_unique_and_cite_existing_requirements() {
    let reqs = requirements();
    let mut ids = BTreeSet::new();
    let all = catalogue();
    assert!(all.len() > 400, "{} cases", all.len());
    for case in &all {
        assert!(
            ids.insert(case.info.id.clone()),
            "duplicate {}",
            case.info.id
        );
        assert!(
            !case.info.requirements.is_empty(),
            "{} cites nothing",
            case.info.id
        );
        for r in &case.info.requirements {
            assert!(reqs.contains_key(r), "{} cites unknown {r}", case.info.id);
        }
        if !case.info.id.starts_with("vector/") {
            let first = &case.info.requirements[0];
            assert!(
                case.info.id.starts_with(&format!("{first}/")),
                "{} is not named after its first requirement",
                case.info.id
            );
        }
        let strongest = case
            .info
            .requirements
            .iter()
            .map(|r| reqs[r].level)
            .min()
            .unwrap();
        assert!(
            strongest <= case.info.level,
            "{} is {:?} but cites only weaker requirements",
            case.info.id,
            case.info.level
        );
        assert!(!case.info.description.is_empty());
    }
}

#[test]
fn every_must_observable_on_the_wire_is_covered() {
    // Only a MUST case's failure is a FAIL: a MUST covered by SHOULD cases alone escapes.
    let covered: BTreeSet<String> = catalogue()
        .iter()
        .filter(|c| c.info.level == Level::Must)
        .flat_map(|c| c.info.requirements.clone())
        .collect();
    let reqs = requirements();
    let uncovered: Vec<&String> = reqs
        .values()
        .filter(|r| r.level == Level::Must)
        .map(|r| &r.id)
        .filter(|id| !covered.contains(*id) && !NOT_ON_THE_WIRE.iter().any(|(x, _)| x == id))
        .collect();
    assert!(
        uncovered.is_empty(),
        "MUST requirements no case covers: {uncovered:?}"
    );
    for (id, why) in NOT_ON_THE_WIRE {
        assert!(
            reqs.get(*id).is_some_and(|r| r.level == Level::Must),
            "{id} is not a MUST requirement"
        );
        assert!(
            !covered.contains(*id),
            "{id} is listed as not on the wire but a case covers it"
        );
        assert!(why.len() > 20, "{id} needs a reason");
    }
}

#[test]
fn only_cases_of_an_optional_feature_can_be_skipped() {
    for case in catalogue() {
        let Some(feature) = &case.info.feature else {
            continue;
        };
        assert!(
            case.info.level != Level::Must,
            "{} is a MUST case that a profile can skip by not claiming {feature}",
            case.info.id
        );
        assert!(
            uhome_conformance::profile::FEATURES.contains(&feature.as_str()),
            "{} needs {feature}, which is not a feature a profile can claim",
            case.info.id
        );
    }
}
