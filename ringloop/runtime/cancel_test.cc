// ringloop/runtime/cancel_test.cc: the cancellation tree.
#include "ringloop/runtime/cancel.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace ringloop {
namespace {

class Recorder final : public CancelCallback {
 public:
  Recorder(std::vector<std::string>* log, std::string name) : log_(log), name_(std::move(name)) {}
  ~Recorder() { Unregister(); }
  void OnCancel() override { log_->push_back(name_); }

 private:
  std::vector<std::string>* log_;
  std::string name_;
};

TEST(CancelTest, CancelRunsCallbacksOnceInOrderAndReachesChildren) {
  std::vector<std::string> log;
  CancelSource root;
  CancelSource child(&root);
  CancelSource grandchild(&child);
  Recorder a(&log, "a"), b(&log, "b"), c(&log, "c");
  a.Register(&root);
  b.Register(&grandchild);
  c.Register(&root);
  EXPECT_FALSE(grandchild.cancelled());
  root.Cancel();
  root.Cancel();  // idempotent
  EXPECT_TRUE(child.cancelled());
  EXPECT_TRUE(grandchild.cancelled());
  // Registration order: `child` registered on `root` when it was made.
  EXPECT_EQ(log, (std::vector<std::string>{"b", "a", "c"}));
  EXPECT_FALSE(a.registered());
}

TEST(CancelTest, CancellingAChildLeavesItsParentAndSiblings) {
  std::vector<std::string> log;
  CancelSource root;
  CancelSource left(&root), right(&root);
  Recorder l(&log, "l"), r(&log, "r");
  l.Register(&left);
  r.Register(&right);
  left.Cancel();
  EXPECT_FALSE(root.cancelled());
  EXPECT_FALSE(right.cancelled());
  EXPECT_EQ(log, (std::vector<std::string>{"l"}));
}

TEST(CancelTest, RegisteringOnACancelledSourceFiresAtOnce) {
  std::vector<std::string> log;
  CancelSource root;
  root.Cancel();
  CancelSource late(&root);
  EXPECT_TRUE(late.cancelled());
  Recorder x(&log, "x");
  x.Register(&late);
  EXPECT_EQ(log, (std::vector<std::string>{"x"}));
  EXPECT_FALSE(x.registered());
}

TEST(CancelTest, UnregisteredAndDestroyedCallbacksDoNotFire) {
  std::vector<std::string> log;
  CancelSource root;
  Recorder kept(&log, "kept");
  kept.Register(&root);
  {
    Recorder gone(&log, "gone");
    gone.Register(&root);
  }
  Recorder off(&log, "off");
  off.Register(&root);
  off.Unregister();
  root.Cancel();
  EXPECT_EQ(log, (std::vector<std::string>{"kept"}));
}

TEST(CancelTest, DetachedChildIsNoLongerReached) {
  CancelSource root;
  CancelSource child(&root);
  child.Detach();
  root.Cancel();
  EXPECT_FALSE(child.cancelled());
  CancelSource other;
  child.Attach(&other);
  other.Cancel();
  EXPECT_TRUE(child.cancelled());
}

// Awaited: an op a task awaits (io.h's OpAwaiter, in miniature).
class Awaited final : public AwaitedOp {
 public:
  explicit Awaited(std::vector<std::string>* log) : log_(log) {}
  void CancelAwaited() override { log_->push_back("awaited"); }

 private:
  std::vector<std::string>* log_;
};

TEST(CancelTest, TheAwaitedOpIsCancelledOnceBeforeTheListAndNotAfterItIsCleared) {
  std::vector<std::string> log;
  CancelSource root;
  CancelSource child(&root);
  Recorder a(&log, "a");
  a.Register(&child);
  Awaited op(&log);
  child.SetAwaited(&op);
  child.ClearAwaited();   // the op ended
  child.SetAwaited(&op);  // the next one
  root.Cancel();
  root.Cancel();
  EXPECT_EQ(log, (std::vector<std::string>{"awaited", "a"}));
  CancelSource other;
  Awaited gone(&log);
  other.SetAwaited(&gone);
  other.ClearAwaited();
  other.Cancel();
  EXPECT_EQ(log.size(), 2u);  // a cleared slot does not fire
}

TEST(CancelTest, TokenSeesItsSource) {
  CancelSource root;
  CancelToken token(&root);
  EXPECT_FALSE(token.cancelled());
  root.Cancel();
  EXPECT_TRUE(token.cancelled());
  EXPECT_FALSE(CancelToken().cancelled());
}

}  // namespace
}  // namespace ringloop
