#include "engine/copy_stream.h"

#include "engine/backend.h"
#include "engine/error.h"

#if RSD_HAVE_CUDA
#include "engine/cuda/copy_stream.h"
#else
namespace rsd::cuda {
class CopyStreamImpl {};  // never constructed: a build without CUDA has no GPU to copy to
}  // namespace rsd::cuda
#endif

namespace rsd {

CopyStream::CopyStream(Device device, int slots) : device_(device) {
  RSD_CHECK(device.is_cuda(), "CopyStream: uploads go to a GPU, got ", device.str());
  RSD_CHECK(slots > 0, "CopyStream: needs at least one slot, got ", slots);
  RSD_CUDA_CALL(impl_ = std::make_unique<cuda::CopyStreamImpl>(device.index, slots));
}

CopyStream::~CopyStream() = default;

void CopyStream::upload(int slot, const std::vector<CopyRange>& ranges) { RSD_CUDA_CALL(impl_->upload(slot, ranges)); }
void CopyStream::wait_on_compute(int slot) { RSD_CUDA_CALL(impl_->wait_on_compute(slot)); }
void CopyStream::wait_on_host(int slot) { RSD_CUDA_CALL(impl_->wait_on_host(slot)); }
void CopyStream::release(int slot) { RSD_CUDA_CALL(impl_->release(slot)); }

}  // namespace rsd
