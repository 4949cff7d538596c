from folio.sizes import human_size


def test_sizes_in_the_unit_that_fits() -> None:
    # the export printed "(0.0 MB)" for a 20 KB file
    assert human_size(20_480) == "20.5 KB"
    assert human_size(512) == "512 B"
    assert human_size(3_400_000) == "3.4 MB"
    assert human_size(2_500_000_000) == "2.5 GB"
    assert human_size(None) == "?"
