// ringloop/runtime/inline_function.h: a move-only callable that keeps typical server
// lambdas without a heap allocation.
//
// InlineFunction<R(Args...)> owns one callable, like absl::AnyInvocable or
// std::move_only_function, but stores it in place when it fits in
// kInlineBytes (48: six pointers, a lambda capturing a connection, a buffer,
// a length and a few references) with at most 8-byte alignment and a move
// constructor that cannot throw. Anything larger lives on the heap. The Loop
// keeps one per op, so a callback that fits costs no malloc/free per op
// (AnyInvocable keeps 16 bytes in place; a lambda capturing three pointers was
// allocated on every Submit).
//
// Empty (default-constructed, from nullptr, from a null function pointer, or
// moved from): operator bool is false, and calling it is a bug (RL_CHECK).
// Not thread-safe; not copyable.
#ifndef RINGLOOP_RUNTIME_INLINE_FUNCTION_H_
#define RINGLOOP_RUNTIME_INLINE_FUNCTION_H_

#include <cstddef>
#include <cstring>
#include <functional>
#include <new>
#include <type_traits>
#include <utility>

#include "ringloop/core/check.h"

namespace ringloop {

template <class Signature>
class InlineFunction;

template <class R, class... Args>
class InlineFunction<R(Args...)> {
 public:
  // kInlineBytes: the largest callable kept in place (see the file comment).
  static constexpr size_t kInlineBytes = 48;

  InlineFunction() noexcept = default;
  InlineFunction(std::nullptr_t) noexcept {}  // NOLINT: as std::function

  // InlineFunction(f): takes `f` (moved or copied in). A null function pointer
  // makes an empty InlineFunction.
  template <class F, class D = std::decay_t<F>,
            class = std::enable_if_t<!std::is_same_v<D, InlineFunction> &&
                                     std::is_invocable_r_v<R, D&, Args...>>>
  InlineFunction(F&& f) {  // NOLINT: implicit, as std::function
    Emplace(std::forward<F>(f));
  }

  // Emplace: makes this (which must be empty) hold `f`, built where it is
  // stored: what the constructor does, for a holder that already exists (the
  // Loop's callback slots), saving the move of a temporary. `f` may also be
  // an InlineFunction (moved in) or nullptr (stays empty).
  template <class F, class D = std::decay_t<F>>
  void Emplace(F&& f) {
    RL_DCHECK(ops_ == nullptr);
    if constexpr (std::is_same_v<D, InlineFunction>) {
      TakeFrom(f);
    } else if constexpr (std::is_same_v<D, std::nullptr_t>) {
      return;
    } else {
      static_assert(std::is_invocable_r_v<R, D&, Args...>,
                    "InlineFunction::Emplace: the callable does not fit the signature");
      if constexpr (std::is_pointer_v<D> || std::is_member_pointer_v<D>) {
        if (f == nullptr) return;
      }
      if constexpr (kFitsInline<D>) {
        ::new (static_cast<void*>(storage_)) D(std::forward<F>(f));
        ops_ = &kInlineOps<D>;
      } else {
        D* heap = new D(std::forward<F>(f));
        std::memcpy(storage_, &heap, sizeof(heap));
        ops_ = &kHeapOps<D>;
      }
    }
  }

  InlineFunction(InlineFunction&& other) noexcept { TakeFrom(other); }
  InlineFunction& operator=(InlineFunction&& other) noexcept {
    if (this != &other) {
      Reset();
      TakeFrom(other);
    }
    return *this;
  }
  InlineFunction& operator=(std::nullptr_t) noexcept {
    Reset();
    return *this;
  }
  InlineFunction(const InlineFunction&) = delete;
  InlineFunction& operator=(const InlineFunction&) = delete;
  ~InlineFunction() { Reset(); }

  // operator bool: whether it holds a callable.
  explicit operator bool() const noexcept { return ops_ != nullptr; }

  // operator(): calls the callable (which must exist).
  R operator()(Args... args) {
    RL_CHECK(ops_ != nullptr);
    return ops_->invoke(storage_, std::forward<Args>(args)...);
  }

 private:
  // Ops: what the stored type needs, one table per type. A null relocate means
  // "copy the bytes" (trivially copyable callables, and heap pointers); a null
  // destroy means "nothing to do".
  struct Ops {
    R (*invoke)(void* storage, Args&&... args);
    void (*relocate)(void* to, void* from) noexcept;  // move-construct, destroy `from`
    void (*destroy)(void* storage) noexcept;
  };

  template <class D>
  static constexpr bool kFitsInline = sizeof(D) <= kInlineBytes &&
                                      alignof(D) <= 8 && std::is_nothrow_move_constructible_v<D>;

  // Call: invokes `f`, converting its result to R (discarding it for void).
  template <class D>
  static R Call(D& f, Args&&... args) {
    if constexpr (std::is_void_v<R>) {
      std::invoke(f, std::forward<Args>(args)...);
    } else {
      return std::invoke(f, std::forward<Args>(args)...);
    }
  }
  template <class D>
  static R InvokeInline(void* storage, Args&&... args) {
    return Call<D>(*std::launder(static_cast<D*>(storage)), std::forward<Args>(args)...);
  }
  template <class D>
  static void RelocateInline(void* to, void* from) noexcept {
    D* source = std::launder(static_cast<D*>(from));
    ::new (to) D(std::move(*source));
    source->~D();
  }
  template <class D>
  static void DestroyInline(void* storage) noexcept {
    std::launder(static_cast<D*>(storage))->~D();
  }
  template <class D>
  static D* HeapObject(void* storage) {
    D* heap;
    std::memcpy(&heap, storage, sizeof(heap));
    return heap;
  }
  template <class D>
  static R InvokeHeap(void* storage, Args&&... args) {
    return Call<D>(*HeapObject<D>(storage), std::forward<Args>(args)...);
  }
  template <class D>
  static void DestroyHeap(void* storage) noexcept {
    delete HeapObject<D>(storage);
  }

  template <class D>
  static constexpr bool kTrivial =
      std::is_trivially_copyable_v<D>&& std::is_trivially_destructible_v<D>;
  template <class D>
  static constexpr Ops kInlineOps{&InvokeInline<D>, kTrivial<D> ? nullptr : &RelocateInline<D>,
                                  kTrivial<D> ? nullptr : &DestroyInline<D>};
  template <class D>
  static constexpr Ops kHeapOps{&InvokeHeap<D>, nullptr, &DestroyHeap<D>};

  void TakeFrom(InlineFunction& other) noexcept {
    ops_ = other.ops_;
    if (ops_ == nullptr) return;
    if (ops_->relocate != nullptr) {
      ops_->relocate(storage_, other.storage_);
    } else {
      std::memcpy(storage_, other.storage_, kInlineBytes);
    }
    other.ops_ = nullptr;
  }
  void Reset() noexcept {
    if (ops_ != nullptr && ops_->destroy != nullptr) ops_->destroy(storage_);
    ops_ = nullptr;
  }

  alignas(8) unsigned char storage_[kInlineBytes];
  const Ops* ops_ = nullptr;
};

}  // namespace ringloop

#endif  // RINGLOOP_RUNTIME_INLINE_FUNCTION_H_
