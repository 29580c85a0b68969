// primsel: binds every layer of a CNN to its fastest primitive on the device it runs on.
// The umbrella header: include this one.
#pragma once

#include "primsel/version.hpp"

#include "primsel/core/denormals.hpp"
#include "primsel/core/error.hpp"
#include "primsel/core/format.hpp"
#include "primsel/core/layout_convert.hpp"
#include "primsel/core/random.hpp"
#include "primsel/core/shape.hpp"
#include "primsel/core/tensor.hpp"
#include "primsel/core/thread_pool.hpp"

#include "primsel/graph/builder.hpp"
#include "primsel/graph/conv_desc.hpp"
#include "primsel/graph/graph.hpp"
#include "primsel/graph/model_stats.hpp"
#include "primsel/graph/passes.hpp"
#include "primsel/graph/op.hpp"
#include "primsel/graph/shape_inference.hpp"
#include "primsel/graph/subgraph.hpp"

#include "primsel/io/onnx.hpp"
#include "primsel/io/onnx_writer.hpp"

#include "primsel/primitives/concept.hpp"
#include "primsel/primitives/default_primitives.hpp"
#include "primsel/primitives/ops/concat.hpp"
#include "primsel/primitives/ops/eltwise.hpp"
#include "primsel/primitives/ops/fully_connected.hpp"
#include "primsel/primitives/ops/pooling.hpp"
#include "primsel/primitives/ops/softmax.hpp"
#include "primsel/primitives/gemm/gemm_u8s8.hpp"
#include "primsel/primitives/reference.hpp"
#include "primsel/quant/calibrate.hpp"
#include "primsel/quant/quantize.hpp"

#include "primsel/search/searchers.hpp"
#include "primsel/select/model_selector.hpp"

#include "primsel/runtime/network.hpp"
#include "primsel/runtime/pipeline.hpp"
#include "primsel/runtime/pipeline_plan.hpp"
#include "primsel/runtime/reference_executor.hpp"
#include "primsel/runtime/static_network.hpp"
#include "primsel/runtime/tuning_cache.hpp"

#include "primsel/zoo/zoo.hpp"
