import { BitstreamError, RbspReader } from './rbsp-reader';

/**
 * The H.265 sequence and picture parameter sets (ITU-T H.265 7.3.2.2, 7.3.2.3), read as far as a
 * slice segment header's syntax depends on them, with the short-term reference picture sets
 * derived (7.4.8) because a slice's reference list syntax depends on how many pictures they use.
 */

export interface ShortTermRps {
  readonly negative: readonly { readonly delta: number; readonly used: boolean }[];
  readonly positive: readonly { readonly delta: number; readonly used: boolean }[];
}

export interface HevcSps {
  readonly chromaArrayType: number;
  readonly separateColourPlane: boolean;
  readonly log2MaxPicOrderCntLsb: number;
  readonly picSizeInCtbs: number;
  readonly sampleAdaptiveOffset: boolean;
  readonly shortTermRpsList: readonly ShortTermRps[];
  readonly longTermRefPicsPresent: boolean;
  readonly longTermUsedByCurrPic: readonly boolean[];
  readonly temporalMvp: boolean;
}

export interface HevcPps {
  readonly spsId: number;
  readonly dependentSliceSegmentsEnabled: boolean;
  readonly outputFlagPresent: boolean;
  readonly numExtraSliceHeaderBits: number;
  readonly cabacInitPresent: boolean;
  readonly numRefIdxL0Default: number;
  readonly numRefIdxL1Default: number;
  readonly sliceChromaQpOffsetsPresent: boolean;
  readonly weightedPred: boolean;
  readonly weightedBipred: boolean;
  readonly tilesOrEntropySync: boolean;
  readonly loopFilterAcrossSlicesEnabled: boolean;
  readonly deblockingFilterOverrideEnabled: boolean;
  readonly deblockingFilterDisabled: boolean;
  readonly listsModificationPresent: boolean;
  readonly sliceSegmentHeaderExtensionPresent: boolean;
  readonly chromaQpOffsetListEnabled: boolean;
}

function skipProfileTierLevel(reader: RbspReader, maxSubLayersMinus1: number): void {
  reader.skipBits(96); // general profile, tier, flags and level
  const profilePresent: boolean[] = [];
  const levelPresent: boolean[] = [];
  for (let i = 0; i < maxSubLayersMinus1; i++) {
    profilePresent.push(reader.flag());
    levelPresent.push(reader.flag());
  }
  if (maxSubLayersMinus1 > 0) {
    reader.skipBits(2 * (8 - maxSubLayersMinus1));
  }
  for (let i = 0; i < maxSubLayersMinus1; i++) {
    reader.skipBits((profilePresent[i] ? 88 : 0) + (levelPresent[i] ? 8 : 0));
  }
}

function skipScalingListData(reader: RbspReader): void {
  for (let sizeId = 0; sizeId < 4; sizeId++) {
    for (let matrixId = 0; matrixId < 6; matrixId += sizeId === 3 ? 3 : 1) {
      if (!reader.flag()) {
        reader.ue(); // scaling_list_pred_matrix_id_delta
        continue;
      }
      const coefficients = Math.min(64, 1 << (4 + (sizeId << 1)));
      if (sizeId > 1) {
        reader.se(); // scaling_list_dc_coef_minus8
      }
      for (let i = 0; i < coefficients; i++) {
        reader.se();
      }
    }
  }
}

/** st_ref_pic_set(index) (7.3.7) and its derivation (7.4.8), from the sets parsed before it. */
export function parseShortTermRps(reader: RbspReader, index: number, count: number, previous: readonly ShortTermRps[]): ShortTermRps {
  if (index !== 0 && reader.flag()) {
    const deltaIdx = index === count ? reader.ue() + 1 : 1;
    const reference = previous[index - deltaIdx];
    if (!reference) {
      throw new BitstreamError(`short-term reference picture set ${index} predicts from a set that does not exist`);
    }
    const sign = reader.bit();
    const deltaRps = (1 - 2 * sign) * (reader.ue() + 1);
    const referenceDeltas = [...reference.negative, ...reference.positive];
    const used: boolean[] = [];
    const useDelta: boolean[] = [];
    for (let j = 0; j <= referenceDeltas.length; j++) {
      used.push(reader.flag());
      useDelta.push(used[j] ? true : reader.flag());
    }
    const negativeCount = reference.negative.length;
    const negative: { delta: number; used: boolean }[] = [];
    const positive: { delta: number; used: boolean }[] = [];
    for (let j = reference.positive.length - 1; j >= 0; j--) {
      const delta = reference.positive[j].delta + deltaRps;
      if (delta < 0 && useDelta[negativeCount + j]) {
        negative.push({ delta, used: used[negativeCount + j] });
      }
    }
    if (deltaRps < 0 && useDelta[referenceDeltas.length]) {
      negative.push({ delta: deltaRps, used: used[referenceDeltas.length] });
    }
    for (let j = 0; j < negativeCount; j++) {
      const delta = reference.negative[j].delta + deltaRps;
      if (delta < 0 && useDelta[j]) {
        negative.push({ delta, used: used[j] });
      }
    }
    for (let j = negativeCount - 1; j >= 0; j--) {
      const delta = reference.negative[j].delta + deltaRps;
      if (delta > 0 && useDelta[j]) {
        positive.push({ delta, used: used[j] });
      }
    }
    if (deltaRps > 0 && useDelta[referenceDeltas.length]) {
      positive.push({ delta: deltaRps, used: used[referenceDeltas.length] });
    }
    for (let j = 0; j < reference.positive.length; j++) {
      const delta = reference.positive[j].delta + deltaRps;
      if (delta > 0 && useDelta[negativeCount + j]) {
        positive.push({ delta, used: used[negativeCount + j] });
      }
    }
    return { negative, positive };
  }
  const negativeCount = reader.ue();
  const positiveCount = reader.ue();
  if (negativeCount > 16 || positiveCount > 16) {
    throw new BitstreamError(`a short-term reference picture set lists ${negativeCount}+${positiveCount} pictures`);
  }
  const negative: { delta: number; used: boolean }[] = [];
  let poc = 0;
  for (let i = 0; i < negativeCount; i++) {
    poc -= reader.ue() + 1;
    negative.push({ delta: poc, used: reader.flag() });
  }
  const positive: { delta: number; used: boolean }[] = [];
  poc = 0;
  for (let i = 0; i < positiveCount; i++) {
    poc += reader.ue() + 1;
    positive.push({ delta: poc, used: reader.flag() });
  }
  return { negative, positive };
}

export function parseSps(reader: RbspReader): { id: number; sps: HevcSps } {
  reader.skipBits(4); // sps_video_parameter_set_id
  const maxSubLayersMinus1 = reader.bits(3);
  reader.bit(); // sps_temporal_id_nesting_flag
  skipProfileTierLevel(reader, maxSubLayersMinus1);
  const id = reader.ue();
  const chromaFormatIdc = reader.ue();
  const separateColourPlane = chromaFormatIdc === 3 ? reader.flag() : false;
  const width = reader.ue();
  const height = reader.ue();
  if (reader.flag()) {
    for (let i = 0; i < 4; i++) {
      reader.ue(); // conformance window offsets
    }
  }
  reader.ue(); // bit_depth_luma_minus8
  reader.ue(); // bit_depth_chroma_minus8
  const log2MaxPicOrderCntLsb = reader.ue() + 4;
  const subLayerOrderingInfo = reader.flag();
  for (let i = subLayerOrderingInfo ? 0 : maxSubLayersMinus1; i <= maxSubLayersMinus1; i++) {
    reader.ue();
    reader.ue();
    reader.ue();
  }
  const log2MinCb = reader.ue() + 3;
  const log2Ctb = log2MinCb + reader.ue();
  reader.ue(); // log2_min_luma_transform_block_size_minus2
  reader.ue(); // log2_diff_max_min_luma_transform_block_size
  reader.ue(); // max_transform_hierarchy_depth_inter
  reader.ue(); // max_transform_hierarchy_depth_intra
  if (reader.flag() && reader.flag()) {
    skipScalingListData(reader);
  }
  reader.bit(); // amp_enabled_flag
  const sampleAdaptiveOffset = reader.flag();
  if (reader.flag()) {
    reader.skipBits(8); // pcm sample bit depths
    reader.ue();
    reader.ue();
    reader.bit();
  }
  const shortTermRpsCount = reader.ue();
  if (shortTermRpsCount > 64) {
    throw new BitstreamError(`num_short_term_ref_pic_sets ${shortTermRpsCount} is above 64`);
  }
  const shortTermRpsList: ShortTermRps[] = [];
  for (let i = 0; i < shortTermRpsCount; i++) {
    shortTermRpsList.push(parseShortTermRps(reader, i, shortTermRpsCount, shortTermRpsList));
  }
  const longTermRefPicsPresent = reader.flag();
  const longTermUsedByCurrPic: boolean[] = [];
  if (longTermRefPicsPresent) {
    const count = reader.ue();
    for (let i = 0; i < count; i++) {
      reader.skipBits(log2MaxPicOrderCntLsb);
      longTermUsedByCurrPic.push(reader.flag());
    }
  }
  const temporalMvp = reader.flag();
  const ctbSize = 1 << log2Ctb;
  return {
    id,
    sps: {
      chromaArrayType: separateColourPlane ? 0 : chromaFormatIdc,
      separateColourPlane,
      log2MaxPicOrderCntLsb,
      picSizeInCtbs: Math.ceil(width / ctbSize) * Math.ceil(height / ctbSize),
      sampleAdaptiveOffset,
      shortTermRpsList,
      longTermRefPicsPresent,
      longTermUsedByCurrPic,
      temporalMvp,
    },
  };
}

export function parsePps(reader: RbspReader): { id: number; pps: HevcPps } {
  const id = reader.ue();
  const spsId = reader.ue();
  const dependentSliceSegmentsEnabled = reader.flag();
  const outputFlagPresent = reader.flag();
  const numExtraSliceHeaderBits = reader.bits(3);
  reader.bit(); // sign_data_hiding_enabled_flag
  const cabacInitPresent = reader.flag();
  const numRefIdxL0Default = reader.ue() + 1;
  const numRefIdxL1Default = reader.ue() + 1;
  reader.se(); // init_qp_minus26
  reader.bit(); // constrained_intra_pred_flag
  const transformSkipEnabled = reader.flag();
  if (reader.flag()) {
    reader.ue(); // diff_cu_qp_delta_depth
  }
  reader.se(); // pps_cb_qp_offset
  reader.se(); // pps_cr_qp_offset
  const sliceChromaQpOffsetsPresent = reader.flag();
  const weightedPred = reader.flag();
  const weightedBipred = reader.flag();
  reader.bit(); // transquant_bypass_enabled_flag
  const tilesEnabled = reader.flag();
  const entropyCodingSync = reader.flag();
  if (tilesEnabled) {
    const columns = reader.ue() + 1;
    const rows = reader.ue() + 1;
    if (!reader.flag()) {
      for (let i = 0; i < columns - 1 + rows - 1; i++) {
        reader.ue();
      }
    }
    reader.bit(); // loop_filter_across_tiles_enabled_flag
  }
  const loopFilterAcrossSlicesEnabled = reader.flag();
  let deblockingFilterOverrideEnabled = false;
  let deblockingFilterDisabled = false;
  if (reader.flag()) {
    deblockingFilterOverrideEnabled = reader.flag();
    deblockingFilterDisabled = reader.flag();
    if (!deblockingFilterDisabled) {
      reader.se();
      reader.se();
    }
  }
  if (reader.flag()) {
    skipScalingListData(reader);
  }
  const listsModificationPresent = reader.flag();
  reader.ue(); // log2_parallel_merge_level_minus2
  const sliceSegmentHeaderExtensionPresent = reader.flag();
  let chromaQpOffsetListEnabled = false;
  if (reader.flag()) {
    const rangeExtension = reader.flag();
    const others = reader.bits(3);
    reader.skipBits(4); // pps_extension_4bits
    if (others !== 0) {
      throw new BitstreamError('picture parameter sets with the multilayer, 3D or screen-content extensions are not supported');
    }
    if (rangeExtension) {
      if (transformSkipEnabled) {
        reader.ue();
      }
      reader.bit(); // cross_component_prediction_enabled_flag
      chromaQpOffsetListEnabled = reader.flag();
      if (chromaQpOffsetListEnabled) {
        reader.ue();
        const length = reader.ue() + 1;
        for (let i = 0; i < length; i++) {
          reader.se();
          reader.se();
        }
      }
      reader.ue();
      reader.ue();
    }
  }
  return {
    id,
    pps: {
      spsId,
      dependentSliceSegmentsEnabled,
      outputFlagPresent,
      numExtraSliceHeaderBits,
      cabacInitPresent,
      numRefIdxL0Default,
      numRefIdxL1Default,
      sliceChromaQpOffsetsPresent,
      weightedPred,
      weightedBipred,
      tilesOrEntropySync: tilesEnabled || entropyCodingSync,
      loopFilterAcrossSlicesEnabled,
      deblockingFilterOverrideEnabled,
      deblockingFilterDisabled,
      listsModificationPresent,
      sliceSegmentHeaderExtensionPresent,
      chromaQpOffsetListEnabled,
    },
  };
}
