from dfdaemon.p2p.result import (EXIT_CODES_HELP, EXIT_DOWNLOAD, EXIT_PREPARE, EXIT_REGISTER, BackSourceReason,
                                 ErrorCode, Result, exit_code)


def test_exit_codes_are_truncated_error_codes():
    assert (EXIT_PREPARE, EXIT_REGISTER, EXIT_DOWNLOAD) == (77, 79, 80)
    assert exit_code(ErrorCode.REGISTER) == 79
    assert exit_code(0) == 0
    assert Result(success=False, url="u", code=ErrorCode.DOWNLOAD).exit_code == 80


def test_help_text_lists_every_exit_code():
    for code in ("0 ", "1 ", "77", "79", "80", "1101", "1103", "1104"):
        assert code in EXIT_CODES_HELP


def test_back_source_reasons_match_dragonfly():
    assert BackSourceReason.REGISTER_FAIL == 1
    assert BackSourceReason.MD5_NOT_MATCH == 2
    assert BackSourceReason.DOWNLOAD_ERROR == 3
    assert BackSourceReason.NODE_EMPTY == 8
    assert BackSourceReason.SOURCE_ERROR == 10
    assert BackSourceReason.USER_SPECIFIED == 100
