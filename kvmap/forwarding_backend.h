// SPDX-License-Identifier: Apache-2.0
//
// ForwardingBackend: a KvBackend decorator that passes every call to the backend it wraps. The
// gateway stacks decorators (the read cache, the Object Store layer, the --fallback layer);
// each derives from this and overrides only the calls it changes.
//
// Thread: the loop thread, as KvBackend.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>

#include "kvmap/kv_backend.h"

namespace kvmap {

class ForwardingBackend : public KvBackend {
 public:
  explicit ForwardingBackend(KvBackend* inner) : inner_(inner) {}

  void Get(std::string_view bucket, std::string_view key, GetCallback cb) override {
    inner_->Get(bucket, key, std::move(cb));
  }
  void GetPointer(std::string_view bucket, std::string_view key, GetCallback cb) override {
    inner_->GetPointer(bucket, key, std::move(cb));
  }
  void Write(const WriteRequest& request, WriteCallback cb) override {
    inner_->Write(request, std::move(cb));
  }
  void EnsureBucket(const std::string& bucket, BucketCallback cb) override {
    inner_->EnsureBucket(bucket, std::move(cb));
  }
  bool IsBucketReady(const std::string& bucket) const override {
    return inner_->IsBucketReady(bucket);
  }
  void PurgeBucket(const std::string& bucket, BucketCallback cb) override {
    inner_->PurgeBucket(bucket, std::move(cb));
  }
  const KeyspaceIndex* Keyspace(const std::string& bucket) override {
    return inner_->Keyspace(bucket);
  }
  void WhenSynced(const std::string& bucket, std::function<void(KvStatus)> cb) override {
    inner_->WhenSynced(bucket, std::move(cb));
  }
  bool IsFollowing(std::string_view bucket) const override { return inner_->IsFollowing(bucket); }
  bool is_connected() const override { return inner_->is_connected(); }
  size_t max_key_length() const override { return inner_->max_key_length(); }
  void SetChangeObserver(ChangeObserver observer) override {
    inner_->SetChangeObserver(std::move(observer));
  }
  MessageBus* bus() override { return inner_->bus(); }
  StreamClient* streams() override { return inner_->streams(); }
  bool ForEachObjectRef(
      const std::string& bucket,
      const std::function<void(std::string_view key, std::string_view nuid)>& fn) override {
    return inner_->ForEachObjectRef(bucket, fn);
  }

  KvBackend* inner() const { return inner_; }

 protected:
  KvBackend* inner_;
};

}  // namespace kvmap
