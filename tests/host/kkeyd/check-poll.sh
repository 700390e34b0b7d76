#!/bin/bash
# SPDX-License-Identifier: MIT
# poll(2) on the nodes, through the kkpoll helper (KKEY_POLL).
# kkeyd options: none.
. "$(dirname "$0")/lib.sh"
: "${KKEY_POLL:?KKEY_POLL must name the kkpoll helper}"
prepare nokeep
timeout 60 "$KKEY_POLL" "$D"
