#!/bin/sh
# Run every benchmark given on the command line, in order.
set -e
"$1" 1
"$2"
