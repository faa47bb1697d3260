#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs a Criterion test binary so that automake's TAP driver sees one
# result line per test.
exec "$@" --tap=/dev/stdout --jobs=2
