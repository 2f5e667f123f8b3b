#pragma once
// StoredPointsObserver: the plug point through which what the pipeline stored reaches the stages
// after it (the anomaly detectors of detect/). Unlike LiveObserver (per device, TelemetryMessage
// only, for the WebSocket stream), it sees every stored point of every transport — PointBatches
// from line protocol included — as (series, ts, value), once per group commit.
#include <span>

#include "core/types.hpp"

namespace strata::pipeline {

class StoredPointsObserver {
 public:
  virtual ~StoredPointsObserver() = default;
  // The points of one group commit that are durable in the store (refused ones left out), in the
  // order they were appended; a series' points from one device's messages arrive in order, and so
  // do those of a writer that sends a batch once the one before is answered (any shard may take
  // it): this is called on the shard thread after the WAL step and before the group's writers
  // have their completions. It may block (a full queue behind it holds the shard and delays the
  // answers: back-pressure to the senders); it must not fail.
  virtual void stored(std::span<const Point> points) = 0;
};

}  // namespace strata::pipeline
