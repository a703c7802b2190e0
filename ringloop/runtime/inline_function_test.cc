// ringloop/runtime/inline_function_test.cc: InlineFunction keeps small callables in place,
// larger ones on the heap, and owns exactly one copy of each through moves.
#include "ringloop/runtime/inline_function.h"

#include <cstdlib>
#include <memory>
#include <new>
#include <string>

#include "gtest/gtest.h"

// Counts every allocation of this test binary, so that a test can assert that
// storing a callable did (or did not) allocate.
namespace {
size_t allocations = 0;
size_t deallocations = 0;
}  // namespace

void* operator new(size_t n) {
  ++allocations;
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  if (p != nullptr) ++deallocations;
  std::free(p);
}
void operator delete(void* p, size_t) noexcept { operator delete(p); }

namespace ringloop {
namespace {

// Tracked: counts live instances (constructed and not yet destroyed).
struct Tracked {
  static int live;
  Tracked() { ++live; }
  Tracked(const Tracked&) { ++live; }
  Tracked(Tracked&&) noexcept { ++live; }
  ~Tracked() { --live; }
};
int Tracked::live = 0;

TEST(InlineFunction, EmptyByDefaultFromNullptrAndFromANullFunctionPointer) {
  InlineFunction<void(int)> a;
  InlineFunction<void(int)> b = nullptr;
  void (*null_fn)(int) = nullptr;
  InlineFunction<void(int)> c = null_fn;
  EXPECT_FALSE(a);
  EXPECT_FALSE(b);
  EXPECT_FALSE(c);
}

int Twice(int x) { return 2 * x; }

TEST(InlineFunction, CallsWithArgumentsAndReturnsTheResult) {
  InlineFunction<int(int)> from_pointer = &Twice;
  ASSERT_TRUE(from_pointer);
  EXPECT_EQ(from_pointer(21), 42);
  int base = 100;
  InlineFunction<int(int)> from_lambda = [&base](int x) { return base + x; };
  EXPECT_EQ(from_lambda(5), 105);
  base = 200;
  EXPECT_EQ(from_lambda(5), 205);  // captured by reference
  // A void signature discards the callable's result.
  int calls = 0;
  InlineFunction<void()> discard = [&calls] { return ++calls; };
  discard();
  EXPECT_EQ(calls, 1);
}

TEST(InlineFunction, ACaptureOfSixPointersIsStoredWithoutAllocating) {
  int a = 1, b = 2, c = 3, d = 4, e = 5, f = 6;
  const size_t before = allocations;
  InlineFunction<int()> fn = [&a, &b, &c, &d, &e, &f] { return a + b + c + d + e + f; };
  InlineFunction<int()> moved = std::move(fn);
  EXPECT_EQ(allocations, before);
  EXPECT_EQ(moved(), 21);
  EXPECT_FALSE(fn);  // NOLINT: moved from on purpose
}

TEST(InlineFunction, ALargerCaptureLivesOnTheHeapAndIsFreedOnce) {
  struct Big {
    char bytes[InlineFunction<int()>::kInlineBytes + 8] = {7};
  } big;
  const size_t allocated = allocations;
  const size_t freed = deallocations;
  {
    InlineFunction<int()> fn = [big] { return int(big.bytes[0]); };
    EXPECT_EQ(allocations, allocated + 1);
    InlineFunction<int()> moved = std::move(fn);  // moves the pointer only
    EXPECT_EQ(allocations, allocated + 1);
    EXPECT_EQ(moved(), 7);
  }
  EXPECT_EQ(deallocations, freed + 1);
}

TEST(InlineFunction, ACallableThatMayThrowWhenMovedLivesOnTheHeap) {
  struct ThrowingMove {
    ThrowingMove() = default;
    ThrowingMove(const ThrowingMove&) = default;
    ThrowingMove(ThrowingMove&&) noexcept(false) {}
    int operator()() const { return 3; }
  };
  const size_t before = allocations;
  InlineFunction<int()> fn = ThrowingMove{};
  EXPECT_EQ(allocations, before + 1);
  EXPECT_EQ(fn(), 3);
}

TEST(InlineFunction, MovesKeepExactlyOneLiveCallableAndDestroyItOnce) {
  ASSERT_EQ(Tracked::live, 0);
  {
    Tracked t;
    InlineFunction<int()> a = [t] { return Tracked::live; };
    EXPECT_EQ(Tracked::live, 2);  // t and the stored copy
    InlineFunction<int()> b = std::move(a);
    EXPECT_EQ(Tracked::live, 2);  // the copy moved, the source destroyed
    InlineFunction<int()> c;
    c = std::move(b);
    EXPECT_EQ(Tracked::live, 2);
    EXPECT_EQ(c(), 2);
    c = nullptr;  // destroys the stored copy
    EXPECT_EQ(Tracked::live, 1);
    EXPECT_FALSE(c);
  }
  EXPECT_EQ(Tracked::live, 0);
}

TEST(InlineFunction, MoveAssignmentDestroysWhatItHeldBefore) {
  {
    Tracked t;
    InlineFunction<void()> a = [t] {};
    InlineFunction<void()> b = [t] {};
    EXPECT_EQ(Tracked::live, 3);
    a = std::move(b);
    EXPECT_EQ(Tracked::live, 2);
    a = std::move(a);  // self-move keeps it
    EXPECT_TRUE(a);
    EXPECT_EQ(Tracked::live, 2);
  }
  EXPECT_EQ(Tracked::live, 0);
}

TEST(InlineFunction, MoveOnlyCapturesWork) {
  auto owned = std::make_unique<std::string>("kept");
  InlineFunction<std::string()> fn = [p = std::move(owned)] { return *p; };
  InlineFunction<std::string()> moved = std::move(fn);
  EXPECT_EQ(moved(), "kept");
}

TEST(InlineFunctionDeathTest, CallingAnEmptyOneStops) {
  InlineFunction<void()> empty;
  EXPECT_DEATH(empty(), "RL_CHECK failed");
}

}  // namespace
}  // namespace ringloop
