// ringloop/drivers/sim/faults.cc: fault names, swarm plans and the flag syntax.
#include "ringloop/drivers/sim/faults.h"

#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace ringloop::sim {
namespace {

constexpr std::array<std::string_view, kFaultCount> kNames = {
    "eintr",   "short_io",    "conn_reset",  "epipe",         "enobufs",
    "eagain",  "cq_overflow", "submit_busy", "duplicate_cqe", "multishot_end",
    "buggify", "partition",   "crash",
};

}  // namespace

std::string_view FaultName(Fault fault) { return kNames[static_cast<size_t>(fault)]; }

bool FaultPlan::None() const {
  for (uint16_t p : permille) {
    if (p != 0) return false;
  }
  return true;
}

FaultPlan SwarmPlan(Prng& prng) {
  static constexpr uint16_t kRates[] = {10, 50, 200};
  FaultPlan plan;
  for (uint16_t& p : plan.permille) {
    p = prng.Below(2) == 0 ? 0 : kRates[prng.Below(3)];
  }
  return plan;
}

absl::StatusOr<FaultPlan> ParseFaults(std::string_view text) {
  FaultPlan plan;
  if (text.empty() || text == "none") return plan;
  if (text == "all") {
    plan.permille.fill(kDefaultFaultPermille);
    return plan;
  }
  for (absl::string_view piece :
       absl::StrSplit(absl::string_view(text.data(), text.size()), ',', absl::SkipEmpty())) {
    const std::string_view item(piece.data(), piece.size());
    std::string_view name = item;
    uint32_t permille = kDefaultFaultPermille;
    if (const size_t eq = item.find('='); eq != std::string_view::npos) {
      name = item.substr(0, eq);
      if (!absl::SimpleAtoi(piece.substr(eq + 1), &permille) || permille > 1000) {
        return absl::InvalidArgumentError(
            absl::StrCat("--faults: bad rate in \"", piece, "\" (want 0..1000 permille)"));
      }
    }
    size_t i = 0;
    while (i < kFaultCount && kNames[i] != name) ++i;
    if (i == kFaultCount) {
      return absl::InvalidArgumentError(
          absl::StrCat("--faults: unknown fault \"", std::string(name), "\""));
    }
    plan.permille[i] = static_cast<uint16_t>(permille);
  }
  return plan;
}

std::string FormatFaults(const FaultPlan& plan) {
  std::string out;
  for (size_t i = 0; i < kFaultCount; ++i) {
    if (plan.permille[i] == 0) continue;
    absl::StrAppend(&out, out.empty() ? "" : ",", std::string(kNames[i]), "=", plan.permille[i]);
  }
  return out.empty() ? "none" : out;
}

}  // namespace ringloop::sim
