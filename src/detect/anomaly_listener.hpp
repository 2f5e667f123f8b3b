#pragma once
// AnomalyListener: the in-process subscription point for anomaly events. Storage (AnomalyLog) is
// one consumer; the WebSocket stream and, in the next layer, rules that raise alarms and work
// orders are others. They subscribe to the DetectionStage before it starts.
#include "detect/anomaly.hpp"

namespace strata::detect {

class AnomalyListener {
 public:
  virtual ~AnomalyListener() = default;
  // One event, on the detection worker that owns the device, in the order of that device's
  // points; already queued for storage (its id is not known yet). Events of a replay after a
  // restart come with `replayed` set: a listener that acted on them before the crash sees them
  // again (at least once; (series, ts, version) identifies one). Must not block for long and
  // must not call back into the stage.
  virtual void on_anomaly(const AnomalyEvent& event) = 0;
};

}  // namespace strata::detect
