#!/usr/bin/python3
"""Reads a partition directory's segments and .txnindex files with kafka-python's RecordBatch
parser, a reader kbus did not write, and prints one line per batch and per index entry:
  data|control <base offset> <last offset> <producer id> <transactional 0|1> <commit|abort|->
  aborted <producer id> <first offset> <last offset> <last stable offset>
  corrupt <base offset>
"""
import glob
import os
import struct
import sys

from kafka.record.default_records import DefaultRecordBatch


def batches(path):
    data = open(path, "rb").read()
    pos = 0
    while pos + 12 <= len(data):
        length = struct.unpack_from(">i", data, pos + 8)[0]
        end = pos + 12 + length
        if length <= 0 or end > len(data):
            break
        yield DefaultRecordBatch(bytes(data[pos:end]))
        pos = end


def describe(batch):
    # kafka-python 2.0.2 names no accessor for the producer id: its header tuple holds it.
    producer_id = batch._header_data[9]
    marker = "-"
    if batch.is_control_batch:
        record = next(iter(batch))
        _, kind = struct.unpack(">hh", bytes(record.key))
        marker = {0: "abort", 1: "commit"}.get(kind, "?")
    last = batch.base_offset + batch.last_offset_delta
    kind = "control" if batch.is_control_batch else "data"
    return f"{kind} {batch.base_offset} {last} {producer_id} {int(batch.is_transactional)} {marker}"


def main(directory):
    for segment in sorted(glob.glob(os.path.join(directory, "*.log"))):
        for batch in batches(segment):
            if not batch.validate_crc():
                print(f"corrupt {batch.base_offset}")
                continue
            print(describe(batch))
    for index in sorted(glob.glob(os.path.join(directory, "*.txnindex"))):
        data = open(index, "rb").read()
        for at in range(0, len(data) - len(data) % 34, 34):
            _, producer, first, last, stable = struct.unpack_from(">hqqqq", data, at)
            print(f"aborted {producer} {first} {last} {stable}")


if __name__ == "__main__":
    main(sys.argv[1])
