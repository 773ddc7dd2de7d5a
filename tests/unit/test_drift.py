"""Drift against the baseline the ledger's records give: each record replaces the categories it covers; the live
state is compared only where some record covered it (else: cannot tell)."""
from toolkit.release.drift import Scope, baseline, category, compare


def _record(event, covers, items, when="2026-11-30T10:00:00+00:00", version="1.0"):
    return {"event": event, "when": when, "version": version, "fingerprints": {"covers": covers, "items": items}}


def test_items_fall_into_the_categories_records_cover():
    assert category("factory/pipeline/P") == "factory" and category("triggers/T") == "triggers"
    assert category("cluster/c-blue/num_workers") == "cluster/c-blue" and category("secret/key") == "secret/key"
    assert Scope(True, True, ("c",), ("s",)).categories() == ["factory", "triggers", "cluster/c", "secret/s"]


def test_a_later_record_replaces_what_it_covers_so_a_pruned_object_is_not_expected_back():
    records = [_record("swap", ["factory"], {"factory/pipeline/Old": "a", "factory/pipeline/P": "b"}),
               _record("deploy", ["cluster/c-blue"], {"cluster/c-blue/num_workers": "1"}),
               _record("swap", ["factory"], {"factory/pipeline/P": "c"}, version="2.0")]
    items, source, covered = baseline(records)
    assert items == {"factory/pipeline/P": "c", "cluster/c-blue/num_workers": "1"}
    assert source["factory/pipeline/P"]["version"] == "2.0" and covered == {"factory", "cluster/c-blue"}


def test_edited_added_and_deleted_items_are_named_and_what_no_record_covered_cannot_be_told():
    records = [{"event": "deploy", "when": "t0", "version": "0.9"},  # before drift records: no state
               {"event": "cluster-restarted", "when": "t0", "version": "-", "state": "RUNNING"},  # not a state
               _record("swap", ["factory", "triggers"], {"factory/pipeline/P": "b", "triggers/T": "Started",
                                                         "factory/dataset/D": "d"})]
    live = {"factory/pipeline/P": "x", "triggers/T": "Stopped", "factory/dataset/New": "n", "secret/key": "v1"}
    report = compare(live, records, Scope(factory=True, triggers=True, clusters=("c-green",), secrets=("key",)),
                     "prod")
    assert [(i.item, i.change) for i in report.items] == [("factory/dataset/D", "deleted"),
                                                          ("factory/dataset/New", "added"),
                                                          ("factory/pipeline/P", "edited"), ("triggers/T", "edited")]
    assert str(report.items[3]) == "triggers/T: Started -> Stopped (since the swap of 1.0 at 2026-11-30T10:00:00+00:00)"
    assert report.unknown == ["secret/key"] and report.drifted  # the never-deployed c-green: nothing to tell
    same = compare({"factory/pipeline/P": "b", "triggers/T": "Started", "factory/dataset/D": "d"}, records,
                   Scope(factory=True, triggers=True), "prod")
    assert not same.drifted and same.unknown == []
